// Leaves a warm process's young generation empty before it says `ready`.
// Preloading allocates a lot, and V8 then posts a minor GC as a task; a
// process blocked in its preload phase runs no tasks, so that GC used to
// run in the middle of the caller's run (profiled: ~0.8 ms of a no-op run,
// right before its exit). Collected here, off the caller's time, the task
// finds nothing to do. Only the young generation: a full GC would also
// reset the old generation's limits, which the tool's own run then paces
// its major GCs by; this one leaves them as preloading set them.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export function emptyHeap(): void {
  // gc() exists only with --expose-gc, and only in contexts made after it
  // is set: one is made for it, and the flag is put back at once so the
  // tool's own new contexts do not see a gc global.
  setFlagsFromString("--expose-gc");
  let gc: ((options: { type: "minor" }) => void) | undefined;
  try {
    gc = runInNewContext("gc") as (options: { type: "minor" }) => void;
  } finally {
    setFlagsFromString("--no-expose-gc");
  }
  gc({ type: "minor" });
}
