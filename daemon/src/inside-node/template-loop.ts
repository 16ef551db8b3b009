// The Node template's loop (runs in the template, inside Node's preload
// phase, after `ready`): forks a child for each `fork` from the daemon and
// reports how each child ended. The template itself never returns from here;
// a child returns, holding its own link as fd `link`, and goes on exactly as
// a pre-started warm process does: it waits for its run in the preload
// phase, and Node's bootstrap then runs the entry (see main.ts). It
// returns the pages its `fork` listed (pairs: first page, count), to write
// ahead of its run (native.prefault).
import { native } from "../native";
import { send } from "./link";
import { exitUnused } from "./unused-exit";
import { decodeValue, encodeFrame } from "./wire";

export function serveForks(link: number): number[] {
  let pending: Buffer = Buffer.alloc(0);
  for (;;) {
    // Frames already read come first; only then wait for more, or for a child to end.
    if (pending.length < 4 || pending.length < 4 + pending.readUInt32BE(0)) {
      const ended = native.forkWait(link);
      if (ended) {
        const { pid, code, signal, cpuUs } = ended;
        send(link, signal !== undefined ? { t: "exit", pid, signal, cpu_us: cpuUs } : { t: "exit", pid, code: code ?? 255, cpu_us: cpuUs });
        continue;
      }
      const got = native.recvBlocking(link, 65536);
      for (const fd of got.fds) native.close(fd);
      if (got.data.length === 0) exitUnused(0); // the daemon let this template go
      pending = Buffer.concat([pending, got.data]);
      continue;
    }
    const end = 4 + pending.readUInt32BE(0);
    const message = decodeValue(pending.subarray(4, end));
    pending = pending.subarray(end);
    if (message.t !== "fork") exitUnused(70);
    const [mine, theirs] = native.socketpair();
    let pid: number;
    try {
      pid = native.forkChild();
    } catch (error) {
      native.close(mine);
      native.close(theirs);
      const err = error as NodeJS.ErrnoException;
      send(link, { t: "fork_failed", code: String(err.code ?? "EUNKNOWN"), why: err.message });
      continue;
    }
    if (pid === 0) {
      native.dup2(mine, link); // the child's own link takes the template's place
      native.setCloexec(link, true);
      native.close(mine);
      native.close(theirs);
      const pages = message.pages;
      return Array.isArray(pages) && pages.every((n) => typeof n === "number") ? (pages as number[]) : [];
    }
    native.close(mine);
    try {
      native.sendAll(link, encodeFrame({ t: "forked", pid }), [theirs]);
    } finally {
      native.close(theirs);
    }
  }
}

/**
 * Turns the loop (still inside the preload phase, as preloading itself
 * does) until no libuv request is in flight: a child could not complete
 * one started here, since the threads of libuv's pool are not forked.
 */
export function drainRequests(): void {
  const tick = (process as unknown as { _tickCallback(): void })._tickCallback;
  while (native.pendingRequests() > 0 && native.runLoopOnce()) tick.call(process);
  tick.call(process);
}
