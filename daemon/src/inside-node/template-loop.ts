// The Node template's loop (runs in the template, inside Node's preload
// phase, after `ready`): forks a child for each `fork` from the daemon and
// reports how each child ended. The template itself never returns from here;
// a child returns, holding its own link as fd `link`, and goes on exactly as
// a pre-started warm process does: it waits for its run in the preload
// phase, and Node's bootstrap then runs the entry (see main.ts). It
// returns the pages its `fork` listed (pairs: first page, count), to write
// ahead of its run (native.prefault).
import { native } from "../native";
import { getHeapStatistics } from "node:v8";
import { emptyHeap, resetYoungGeneration } from "./empty-heap";
import { BlockingReader, send } from "./link";
import { runTicks } from "./run-ticks";
import { exitUnused } from "./unused-exit";
import { encodeFrame } from "./wire";

/** How much the heap may grow (bytes) between two full collections in the template. */
const OLD_GROWTH_LIMIT = 512 * 1024;

export function serveForks(link: number): number[] {
  const reader = new BlockingReader(link);
  // Every child starts with the template's young generation in the same
  // state: its run then allocates into the same pages as the runs before
  // it, which the pages the daemon learned from them cover (pages.c). Left
  // to itself, the young generation fills with what this loop allocates and
  // its semi-spaces swap at each collection, so each child wrote pages the
  // list did not have: the 300-module CLI's runs alternated between ~150
  // and ~290 page faults (now ~25), and their CPU time between ~5 and ~7 ms.
  resetYoungGeneration();
  let collectedAt = getHeapStatistics().used_heap_size;
  for (;;) {
    // Frames already read come first; only then wait for more, or for a child to end.
    const frame = reader.next();
    if (!frame) {
      const ended = native.forkWait(link);
      if (ended) {
        const { pid, code, signal, cpuUs } = ended;
        send(link, signal !== undefined ? { t: "exit", pid, signal, cpu_us: cpuUs } : { t: "exit", pid, code: code ?? 255, cpu_us: cpuUs });
      } else if (!reader.fill()) exitUnused(0); // the daemon let this template go
      continue;
    }
    for (const fd of frame.fds) native.close(fd); // `fork` carries none
    const message = frame.message;
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
    resetYoungGeneration(); // off the next fork's time: its caller waits for the fork, not for this
    // What those collections promote stays in the old generation. Once it
    // nears its limit, V8 starts an incremental marking that this loop
    // never runs, and every child forked from then on ran it on its
    // caller's time (64 callers at once, 25 rounds: the runs' CPU went from
    // ~6 to ~15 ms after ~800 forks). A full collection now and then, off
    // the callers' time, as before `ready`, keeps it from starting.
    if (getHeapStatistics().used_heap_size > collectedAt + OLD_GROWTH_LIMIT) {
      emptyHeap();
      resetYoungGeneration();
      collectedAt = getHeapStatistics().used_heap_size;
    }
  }
}

/**
 * Turns the loop (still inside the preload phase, as preloading itself
 * does) until no libuv request is in flight: a child could not complete
 * one started here, since the threads of libuv's pool are not forked.
 */
export function drainRequests(): void {
  while (native.pendingRequests() > 0 && native.runLoopOnce()) runTicks();
  runTicks();
}
