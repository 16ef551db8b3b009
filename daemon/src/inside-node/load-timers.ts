// A timer a module sets while loading (a "still working..." warning after
// 2 s, a periodic flush) counts, directly, from when the process loaded the
// module, which is about when the run started. In a warm process it would
// count from when the process preloaded, maybe minutes before the run: the
// timer would be overdue when the run starts, and fire at once. So the
// timers set while preloading are noted, and those still pending when the
// run starts are restarted then (Timeout.refresh: same callback, same delay,
// counted from now). Runs inside the warm process.
import type { Phase } from "./stand-ins";

interface Restartable {
  refresh(): unknown;
  _destroyed?: boolean;
}

const pending: Restartable[] = [];

/** Notes the timers setTimeout/setInterval make while preloading (global and node:timers alike); returns the undo. */
export function noteLoadTimers(phase: Phase): () => void {
  const timers = require("node:timers") as Record<string, unknown>;
  const owners = [globalThis as unknown as Record<string, unknown>, timers];
  const restores: (() => void)[] = [];
  for (const name of ["setTimeout", "setInterval"]) {
    const original = timers[name] as (...args: unknown[]) => Restartable;
    const wrapper = function (this: unknown, ...args: unknown[]) {
      const timer = original.apply(this, args);
      if (phase.preloading) pending.push(timer);
      return timer;
    };
    // util.promisify(setTimeout) finds the promise version here.
    for (const key of Reflect.ownKeys(original)) {
      if (key === "length" || key === "name" || key === "prototype") continue;
      const desc = Object.getOwnPropertyDescriptor(original, key);
      if (desc) Object.defineProperty(wrapper, key, desc);
    }
    Object.defineProperty(wrapper, "name", { value: original.name });
    for (const owner of owners) {
      if (owner[name] !== original) continue;
      owner[name] = wrapper;
      restores.push(() => {
        owner[name] = original;
      });
    }
  }
  return () => {
    for (const restore of restores.reverse()) restore();
  };
}

/** At the start of the run: the load-time timers still pending count from now. */
export function restartLoadTimers(): void {
  for (const timer of pending.splice(0)) if (!timer._destroyed) timer.refresh();
}
