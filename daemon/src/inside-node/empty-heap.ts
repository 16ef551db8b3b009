// Leaves a warm process's heap with no collection pending before it says
// `ready`. Preloading allocates a lot, and V8 then posts GC work as tasks
// (a minor GC; and, once the old generation nears its limit, an
// incremental-marking job); a process blocked in its preload phase runs no
// tasks, so that work used to run inside the caller's run, before its exit
// (Node drains the task queue when the loop empties). Profiled on the
// 300-module CLI: the marking job and the full collection it ends in were
// half of a forked child's run (single-threaded, its marking copies the
// template's pages on write: ~2000 faults), and up to 20 ms of CPU of a
// pre-started process's (marking threads it waited for at exit). A full
// collection here, off the caller's time, leaves young generation empty
// and the old generation's limit computed from what is live, so the run
// starts with nothing to collect.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export function emptyHeap(): void {
  // No argument: a full collection (Node 20's V8 reads `type: "minor"` only; any other options object gives a scavenge).
  collector()();
}

/**
 * Puts the young generation back where it was after the last call: two
 * scavenges (each one swaps its two semi-spaces; Node 20's `gc({type:
 * "minor"})`). Objects allocated since are gone or moved (survivors of two
 * are promoted), and allocation starts again at the same place.
 */
export function resetYoungGeneration(): void {
  const gc = collector();
  gc({ type: "minor" });
  gc({ type: "minor" });
}

let gcFunction: ((options?: { type: string }) => void) | undefined;

function collector(): (options?: { type: string }) => void {
  // Run with `node --expose-gc`, the tool has gc, and so do its new contexts: the flag is left as it is.
  if (typeof globalThis.gc === "function") return globalThis.gc as (options?: { type: string }) => void;
  if (gcFunction) return gcFunction;
  // Otherwise gc() exists only with --expose-gc, and only in contexts made
  // after it is set: one is made for it, and the flag is put back at once
  // so the tool's own new contexts do not see a gc global.
  setFlagsFromString("--expose-gc");
  try {
    gcFunction = runInNewContext("gc") as (options?: { type: string }) => void;
  } finally {
    setFlagsFromString("--no-expose-gc");
  }
  return gcFunction;
}
