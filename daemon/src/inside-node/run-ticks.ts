// Running the queued nextTick callbacks and microtasks by hand, as Node does
// after each callback: warm turns the loop itself while still inside Node's
// preload phase (preload.ts, template-loop.ts).
//
// process._tickCallback is the only handle on that. Under
// --pending-deprecation Node wraps it to warn (DEP0134), and a warning
// printed in a warm process before its run would use up Node's
// once-per-process "(Use `node --trace-deprecation ...`)" hint, missing then
// from the tool's own first warning (and, while preloading, look like the
// module's own). Node's deprecation wrapper has the function it wraps as
// its prototype: that one is called, and the wrapper stays as it was, for
// a tool that calls it itself.
type Tick = () => void;

function unwrapped(): Tick {
  const tick = (process as unknown as { _tickCallback: Tick })._tickCallback;
  const inner: unknown = Object.getPrototypeOf(tick);
  return typeof inner === "function" && inner !== Function.prototype ? (inner as Tick) : tick;
}

export function runTicks(): void {
  unwrapped().call(process);
}
