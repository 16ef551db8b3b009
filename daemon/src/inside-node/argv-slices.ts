// `process.argv.slice(n)` while loading (TypeScript builds `ts.sys.args`
// this way): the module gets a real array, refreshed in place with the
// caller's arguments when a run is taken, so a module that keeps it sees
// the run's. What the module can have seen of it while loading is in the
// key: its length (argv's length is asked), and its elements if it read
// them (getters that ask the slice itself). A module that changes it while
// loading is marked (checked after each preloaded module).
import type { ArgvQuery } from "../protocol/message-types";
import type { Phase } from "./stand-ins";

interface Slice {
  array: string[];
  start: number;
  length: number;
}

const slices: Slice[] = [];

/** A slice of `argv` from `start` handed to a loading module; `record` puts its answers into the key. */
export function sliceForLoading(argv: string[], start: number, phase: Phase, record: (q: ArgvQuery) => unknown): string[] {
  record(["length", null, argv.length]);
  const values = argv.slice(start);
  const array: string[] = [];
  values.forEach((_v, i) => {
    Object.defineProperty(array, i, {
      configurable: true,
      enumerable: true,
      get() {
        if (phase.preloading) record(["slice", start, argv.slice(start)]);
        return values[i];
      },
      set(v: string) {
        if (phase.preloading) phase.note("changed a slice of process.argv while loading");
        values[i] = v;
      },
    });
  });
  slices.push({ array, start, length: values.length });
  return array;
}

/** After a module preloads: did it change a slice it was handed (beyond what the setters see)? Each change is told once. */
export function slicesChanged(): boolean {
  let changed = false;
  for (const s of slices) {
    if (s.length < 0 || (s.array.length === s.length && Object.keys(s.array).length === s.length)) continue;
    changed = true;
    s.length = -1;
  }
  return changed;
}

/** When a run is taken: every slice handed out holds the caller's arguments, as plain elements. */
export function refreshSlices(argv: string[]): void {
  for (const s of slices) {
    s.array.length = 0;
    s.array.push(...argv.slice(s.start));
  }
  slices.length = 0;
}
