// A warning emitted while loading (a deprecated call, `new Buffer()`, an
// experimental feature, a module's own process.emitWarning) is printed by
// Node on the next tick, which for a preloading process is after loading,
// on its own stderr: the caller never sees it, and Node's "shown once"
// flags (the `--trace-deprecation` hint, each deprecation code) are used up
// for every later run. So the module that emits one is not preloaded, and
// warns in the run, as directly. Runs inside the warm process while it
// preloads; afterwards the original is back.
import type { Phase } from "./stand-ins";

/** Wraps process.emitWarning; returns a function that puts the original back. */
export function trapLoadWarnings(phase: Phase): () => void {
  const proc = process as unknown as Record<string, unknown>;
  const emitWarning = process.emitWarning;
  proc.emitWarning = function emitWarningWhileLoading(this: unknown, ...args: unknown[]) {
    if (phase.preloading) {
      const first = args[0];
      phase.note(`emitted a warning while loading (${String(first instanceof Error ? first.message : first).split("\n")[0]})`);
    }
    return (emitWarning as (...a: unknown[]) => void).apply(process, args);
  };
  return () => {
    proc.emitWarning = emitWarning;
  };
}
