// Wrapping a node:fs function for the traps that watch what loading code
// does with files (file-reads.ts, file-writes.ts): the wrapper keeps what
// hangs off the original (realpathSync.native, promisify.custom) and its name.

/** Replaces owner[name] with a function that calls `before(args)` first (which may throw); returns the undo, or null if there is no such function. */
export function wrapFs(owner: Record<string, unknown>, name: string, before: (args: unknown[]) => void): (() => void) | null {
  const original = owner[name];
  if (typeof original !== "function") return null;
  const wrapper = function (this: unknown, ...args: unknown[]) {
    before(args);
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
  for (const key of Reflect.ownKeys(original)) {
    if (key === "length" || key === "name" || key === "prototype") continue;
    const desc = Object.getOwnPropertyDescriptor(original, key);
    if (desc) Object.defineProperty(wrapper, key, desc);
  }
  Object.defineProperty(wrapper, "name", { value: original.name });
  owner[name] = wrapper;
  return () => {
    owner[name] = original;
  };
}
