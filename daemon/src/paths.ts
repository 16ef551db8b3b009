// Where warm keeps its socket, state and config (XDG base directories),
// the check that the socket directory is the user's alone (the same rules
// as the shim's, client-shim/sockdir.c), and a bounded mkdir -p.
import { closeSync, constants, fchmodSync, fstatSync, mkdirSync, openSync, readlinkSync, statSync, type Stats } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface Paths {
  runtimeDir: string;
  socket: string;
  stateDir: string;
  log: string;
  configFile: string;
}

/**
 * An XDG base directory variable's value, if set to an absolute path. The
 * spec says a relative path is invalid and must be ignored; the shim
 * follows the same rule, so both find the same socket.
 */
export function xdg(name: string): string | undefined {
  const v = process.env[name];
  return v && v.startsWith("/") ? v : undefined;
}

export function resolvePaths(): Paths {
  const uid = process.geteuid ? process.geteuid() : 0;
  const runtime = xdg("XDG_RUNTIME_DIR");
  const runtimeDir = runtime ? join(runtime, "warm") : `/tmp/warm-${uid}`;
  const stateDir = join(xdg("XDG_STATE_HOME") ?? join(homedir(), ".local", "state"), "warm");
  return {
    runtimeDir,
    socket: join(runtimeDir, "daemon.sock"),
    stateDir,
    log: join(stateDir, "daemon.log"),
    configFile: join(xdg("XDG_CONFIG_HOME") ?? join(homedir(), ".config"), "warm", "config.json"),
  };
}

// Linux's O_PATH (the generic value; Node does not export it): an fd that
// names a directory without needing read permission on it.
const O_PATH = 0o10000000;
const MAX_LINKS = 40;

/** A path through an open directory fd: the kernel resolves it from that very directory. */
export function at(dirFd: number, name: string): string {
  return `/proc/self/fd/${dirFd}/${name}`;
}

function openPath(path: string): number {
  return openSync(path, O_PATH | constants.O_NOFOLLOW);
}

/** A directory on the way down: root's or ours, and nobody else may replace what is in it. */
function checkAbove(path: string, st: Stats, uid: number): void {
  if (!st.isDirectory()) throw new Error(`refusing ${path}: not a directory`);
  if (st.uid !== 0 && st.uid !== uid) throw new Error(`refusing ${path}: owned by uid ${st.uid} (each directory above the socket's must be root's or uid ${uid}'s)`);
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) throw new Error(`refusing ${path}: mode ${(st.mode & 0o7777).toString(8)} lets others replace what is in it`);
}

function checkOwn(dir: string, st: Stats, uid: number): void {
  if (st.isSymbolicLink()) throw new Error(`refusing ${dir}: it is a symlink`);
  if (!st.isDirectory()) throw new Error(`refusing ${dir}: not a directory`);
  if (st.uid !== uid) throw new Error(`refusing ${dir}: owned by uid ${st.uid}, not ${uid}`);
  if ((st.mode & 0o077) !== 0) throw new Error(`refusing ${dir}: mode ${(st.mode & 0o777).toString(8)} lets others in (must be 0700)`);
}

/**
 * Opens the runtime dir, creating it 0700 if missing, by walking down from
 * "/" one component at a time through directory fds, so that what is
 * checked is what is used (bind and lock go through the returned fd, see
 * at()). Throws with a clear message if it, or a directory above it, is
 * not safe: the socket hands out the caller's terminal and environment.
 */
export function openPrivateDir(dir: string): number {
  const uid = process.geteuid ? process.geteuid() : 0;
  let rest = dir.split("/").filter((c) => c !== "" && c !== ".");
  let fd = openPath("/");
  let seen = "";
  let links = 0;
  try {
    checkAbove("/", fstatSync(fd), uid);
    while (rest.length > 0) {
      const name = rest.shift()!;
      const last = rest.length === 0;
      seen += `/${name}`;
      let next: number;
      try {
        next = openPath(at(fd, name));
      } catch (error) {
        if (!last || (error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        next = makeOwn(fd, name);
      }
      const st = fstatSync(next);
      if (last) {
        try {
          checkOwn(dir, st, uid);
        } catch (error) {
          closeSync(next);
          throw error;
        }
        closeSync(fd);
        return next;
      }
      if (st.isSymbolicLink()) {
        // A link in a directory we trust, itself root's or ours: nobody
        // else can change where it points. Go on at its target.
        closeSync(next);
        if (st.uid !== 0 && st.uid !== uid) throw new Error(`refusing ${seen}: a symlink owned by uid ${st.uid}`);
        if (++links > MAX_LINKS) throw new Error(`refusing ${dir}: too many symlinks`);
        const target = readlinkSync(at(fd, name));
        rest = [...target.split("/").filter((c) => c !== "" && c !== "."), ...rest];
        if (target.startsWith("/")) {
          closeSync(fd);
          fd = openPath("/");
        }
        continue;
      }
      try {
        checkAbove(seen, st, uid);
      } catch (error) {
        closeSync(next);
        throw error;
      }
      closeSync(fd);
      fd = next;
    }
    throw new Error(`refusing ${dir}: not a directory of its own`);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** Checks (creating it if missing) the runtime dir as openPrivateDir does, for code that then uses it by path. */
export function ensurePrivateDir(dir: string): void {
  closeSync(openPrivateDir(dir));
}

/** Creates name in dir (an fd) 0700 whatever the umask; an O_PATH fd of what is there. */
function makeOwn(dirFd: number, name: string): number {
  try {
    mkdirSync(at(dirFd, name), { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return openPath(at(dirFd, name));
    throw error;
  }
  // Only a directory we made is chmod'ed: never one someone else put there.
  const fd = openSync(at(dirFd, name), constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    fchmodSync(fd, 0o700);
  } finally {
    closeSync(fd);
  }
  return openPath(at(dirFd, name));
}

/**
 * mkdir -p, one level at a time, so a path that can never be made (under
 * /proc, say) fails once with its error instead of looping: Node's own
 * recursive mkdir spins forever on `/proc/self/x`.
 */
export function makeDirs(dir: string, mode = 0o700): void {
  const parts = dir.split("/").filter((c) => c !== "");
  let path = "";
  for (const part of parts) {
    path += `/${part}`;
    try {
      mkdirSync(path, { mode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      if (!statSync(path).isDirectory()) throw Object.assign(new Error(`${path} is not a directory`), { code: "ENOTDIR" });
    }
  }
}
