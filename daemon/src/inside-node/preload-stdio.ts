// Stdio while preloading: fds 0-2 of the same kind (terminal or not) as the
// callers' of this pool, so libraries that look at isatty() while loading
// decide as they would in a direct run; and readable by this process, so
// output written while loading is noticed and blamed.
import { native } from "../native";

export interface PreloadStdio {
  /** True if anything was written to fd 1 or 2 since the last call. */
  outputSince(): boolean;
  /** The fds this keeps open (beyond 0-2). */
  fds: number[];
  close(): void;
}

export function preloadStdio(mask: string): PreloadStdio {
  const watched: number[] = [];
  const owned: number[] = [];
  let pty: { master: number; slave: number } | null = null;
  for (let fd = 0; fd < 3; fd++) {
    if (mask[fd] === "t") {
      pty ??= native.openpty();
      native.dup2(pty.slave, fd);
    } else if (fd > 0) {
      const [r, w] = native.pipe();
      native.dup2(w, fd);
      native.close(w);
      native.setNonblocking(r, true);
      watched.push(r);
      owned.push(r);
    }
  }
  if (pty) {
    native.setNonblocking(pty.master, true);
    watched.push(pty.master);
    owned.push(pty.master, pty.slave);
  }
  return {
    fds: owned,
    outputSince() {
      let wrote = false;
      for (const fd of watched) {
        for (let chunk = native.readNonblocking(fd, 65536); chunk && chunk.length > 0; chunk = native.readNonblocking(fd, 65536)) wrote = true;
      }
      return wrote;
    },
    close() {
      for (const fd of owned) native.close(fd);
    },
  };
}
