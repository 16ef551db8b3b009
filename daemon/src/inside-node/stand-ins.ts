// What preloading modules see of process.argv and process.stdin/stdout/
// stderr. Colour libraries (supports-color, inlined into many CLIs) ask
// `process.stdout.isTTY` and search argv for --color while loading. Rather
// than drop every module that looks, the stand-ins answer what the pool's
// key already fixes and record the rest:
//   - a stdio stand-in answers isTTY and fd (the key holds the tty mask) and
//     hasColors()/getColorDepth() (they read only the env, whose reads are
//     tracked), and columns/rows of one that is not a terminal (it has
//     none); anything else while loading marks the module;
//   - the argv stand-in answers indexOf/lastIndexOf/includes/length/[i] and
//     slice(n) (see argv-slices.ts: TypeScript keeps `process.argv.slice(2)`), and
//     records each question with its answer: the daemon puts the answers
//     for the caller's argv into the key (runtimes/node/argv-answers.ts), so a warm process only serves
//     callers for whom every answer is the same;
// and after preloading both forward everything to the real objects, so a
// module that kept a reference sees the caller's streams and argv.

import type { ArgvQuery } from "../protocol/message-types";
import { sliceForLoading } from "./argv-slices";
import { forwardingTraps, forwardOnceLoaded } from "./forwarding";


export interface Phase {
  preloading: boolean;
  /** `module`: the ES module whose code did it, when known (the import being preloaded is blamed too). */
  note(why: string, module?: string): void;
}

const STDIO_ANSWERS = new Set(["isTTY", "fd", "hasColors", "getColorDepth"]);
// A stream that is not a terminal has no size (yargs reads stdout.columns
// while loading); a terminal's size is the caller's, so asking it drops the module.
const SIZE = new Set(["columns", "rows"]);

/** A stand-in for process[name] (fd 0, 1 or 2) that is a terminal or not as `isTTY` says. */
export function stdioStandIn(name: string, fd: number, isTTY: boolean, real: () => object, phase: Phase): object {
  const tty = require("node:tty") as typeof import("node:tty");
  const after = forwardingTraps(real);
  return new Proxy(
    {},
    {
      ...forwardOnceLoaded(real, () => phase.preloading, (trap) => phase.note(`used process.${name} (${trap}) while loading`)),
      get(target, prop, receiver) {
        if (!phase.preloading) return after.get(target, prop, receiver);
        if (!isTTY && SIZE.has(String(prop))) return undefined;
        if (!STDIO_ANSWERS.has(String(prop))) {
          phase.note(`used process.${name}.${String(prop)} while loading`);
          return undefined;
        }
        if (prop === "isTTY") return isTTY ? true : undefined;
        if (prop === "fd") return fd;
        // Both read only the env (and their arguments), never the stream.
        const method = (tty.WriteStream.prototype as unknown as Record<string, (...a: unknown[]) => unknown>)[String(prop)];
        return isTTY ? (...args: unknown[]) => method.apply({}, args) : prop === "hasColors" ? () => false : () => 1;
      },
      set(target, prop, value, receiver) {
        if (!phase.preloading) return after.set(target, prop, value, receiver);
        phase.note(`set process.${name}.${String(prop)} while loading`);
        return true;
      },
      has(target, prop) {
        if (!phase.preloading) return after.has(target, prop);
        return STDIO_ANSWERS.has(String(prop));
      },
    },
  );
}

/** A stand-in for process.argv; `queries` collects what was asked while preloading. */
export function argvStandIn(current: () => string[], queries: ArgvQuery[], phase: Phase): string[] {
  const record = (q: ArgvQuery) => {
    if (!queries.some((x) => x[0] === q[0] && x[1] === q[1])) queries.push(q);
    return q[2];
  };
  return new Proxy([] as string[], {
    get(_target, prop) {
      const argv = current();
      if (!phase.preloading) {
        const value = Reflect.get(argv, prop, argv);
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(argv) : value;
      }
      if (prop === "indexOf" || prop === "lastIndexOf" || prop === "includes") {
        return (x: unknown, from?: unknown) => {
          if (typeof x !== "string" || from !== undefined) {
            phase.note(`read process.argv.${prop} while loading`);
            return (argv[prop] as (a: unknown, b?: unknown) => unknown)(x, from);
          }
          return record([prop, x, argv[prop](x)]);
        };
      }
      if (prop === "length") return record(["length", null, argv.length]);
      if (prop === "slice") {
        return (start?: unknown, end?: unknown) => {
          if (end !== undefined || (start !== undefined && !Number.isInteger(start))) {
            phase.note("read process.argv (slice) while loading");
            return argv.slice(start as number, end as number);
          }
          return sliceForLoading(argv, (start as number | undefined) ?? 0, phase, record);
        };
      }
      if (typeof prop === "string" && /^\d+$/.test(prop)) return record(["at", Number(prop), argv[Number(prop)] ?? null]);
      phase.note(`read process.argv (${String(prop)}) while loading`);
      // Bound to the real array, so what the method reads is not asked again through here.
      const value = Reflect.get(argv, prop, argv);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(argv) : value;
    },
    set(_target, prop, value) {
      if (phase.preloading) phase.note("wrote process.argv while loading");
      return Reflect.set(current(), prop, value);
    },
    has(_target, prop) {
      if (phase.preloading) phase.note("read process.argv while loading");
      return Reflect.has(current(), prop);
    },
    ownKeys() {
      if (phase.preloading) phase.note("read process.argv while loading");
      return Reflect.ownKeys(current());
    },
    getOwnPropertyDescriptor(_target, prop) {
      if (phase.preloading) phase.note("read process.argv while loading");
      return Reflect.getOwnPropertyDescriptor(current(), prop);
    },
  });
}

/**
 * What preloading modules see as require.main (process.mainModule) when the
 * entry is CommonJS, and as module.parent when the entry requires them. The
 * entry's module does not exist yet, but what a direct run's modules would
 * read of it while loading is known: its id, filename and directory (yargs
 * keeps require.main.filename), and that it has not finished loading. The
 * loader's own reads of a parent (its paths, children, symbols) go to
 * `loader`, a module at the entry's path. Anything else marks the module.
 * Afterwards it is the real main module in every way a module can tell
 * (CoffeeScript's run sets require.main's filename and paths and compiles
 * the user's script in it).
 */
export function mainModuleStandIn(filename: string, phase: Phase, loader: object): object {
  const { dirname } = require("node:path") as typeof import("node:path");
  const known: Record<string, unknown> = { id: ".", filename, path: dirname(filename), loaded: false };
  const forLoader = (prop: PropertyKey) => typeof prop === "symbol" || prop === "paths" || prop === "children";
  const isKnown = (prop: PropertyKey) => typeof prop === "string" && Object.hasOwn(known, prop);
  const real = () => (process.mainModule as object | undefined) ?? {};
  const after = forwardingTraps(real);
  return new Proxy(
    {},
    {
      ...forwardOnceLoaded(real, () => phase.preloading, (trap) => phase.note(`used require.main (${trap}) while loading`)),
      get(target, prop, receiver) {
        if (!phase.preloading) return after.get(target, prop, receiver);
        if (isKnown(prop)) return known[prop as string];
        if (forLoader(prop)) return Reflect.get(loader, prop);
        phase.note(`used require.main.${String(prop)} while loading`);
        return undefined;
      },
      has(target, prop) {
        if (!phase.preloading) return after.has(target, prop);
        if (isKnown(prop)) return true;
        if (forLoader(prop)) return Reflect.has(loader, prop);
        phase.note(`used require.main while loading`);
        return false;
      },
      getOwnPropertyDescriptor(target, prop) {
        if (!phase.preloading) return after.getOwnPropertyDescriptor(target, prop);
        if (isKnown(prop)) return { value: known[prop as string], writable: true, enumerable: true, configurable: true };
        phase.note(`used require.main.${String(prop)} while loading`);
        return undefined;
      },
      // A module either way (the loader's stand-in while loading): `instanceof Module` holds, as directly.
      getPrototypeOf: (target) => (phase.preloading ? Reflect.getPrototypeOf(loader) : after.getPrototypeOf(target)),
    },
  );
}
