// Loads a tool's learned modules into a warm process before any request,
// and notices every module that captured per-invocation state while
// loading: the process's stdio streams, argv, cwd, or the whole env. Such a
// module would run with the preloading process's values instead of the
// caller's, so it is dropped from the set and the process is not used.
// What the key can pin down is reported instead of dropped: env variables
// read by name, questions asked of argv, the tty-ness of stdio (see
// stand-ins.ts) and the working directory.
import Module = require("node:module");
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { native } from "../../native";
import { type ArgvQuery, argvStandIn, type Phase, stdioStandIn } from "./stand-ins";

export type ModuleRef = [kind: "cjs" | "esm", id: string];

export interface PreloadReport {
  dropped: [id: string, why: string][];
  envRead: string[];
  argvQueries: ArgvQuery[];
  /** Some module read process.cwd() while loading. */
  cwdRead: boolean;
  /** Files read or looked at through fs while loading (config files, data): a change to one makes the process stale. */
  filesRead: string[];
  /** False when some module captured per-invocation state: do not use this process. */
  clean: boolean;
}

const MAX_FILES_READ = 4096;

// Read by Node's module loader itself on every load, not by the tool.
const NODE_INTERNAL_ENV = new Set(["WATCH_REPORT_DEPENDENCIES"]);

type CompileFn = (this: { filename?: string }, content: string, filename: string) => unknown;

/** Installs the traps; returns a function that removes them. */
function installTraps(phase: Phase, envRead: Set<string>, argvQueries: ArgvQuery[], mask: string, used: { cwd: boolean }, filesRead: Set<string>): () => void {
  const restores: (() => void)[] = [];
  const proc = process as unknown as Record<string, unknown>;

  // What loading code reads from disk besides modules (a config file read
  // at load time): the daemon watches it like a module.
  const fsMod = require("node:fs") as Record<string, unknown>;
  for (const name of ["readFileSync", "statSync", "lstatSync", "existsSync", "readdirSync", "openSync", "accessSync"]) {
    const original = fsMod[name] as (...a: unknown[]) => unknown;
    fsMod[name] = function (this: unknown, path: unknown, ...rest: unknown[]) {
      if (phase.preloading && filesRead.size < MAX_FILES_READ) {
        const p = typeof path === "string" ? path : Buffer.isBuffer(path) ? path.toString() : path instanceof URL ? path.pathname : null;
        if (p !== null) filesRead.add(resolve(p));
      }
      return original.call(this, path, ...rest);
    };
    restores.push(() => {
      fsMod[name] = original;
    });
  }

  ["stdin", "stdout", "stderr"].forEach((name, fd) => {
    const desc = Object.getOwnPropertyDescriptor(process, name);
    if (!desc?.get || !desc.configurable) return;
    const get = desc.get;
    const standIn = stdioStandIn(name, fd, mask[fd] === "t", () => get.call(process) as object, phase);
    Object.defineProperty(process, name, { configurable: true, enumerable: desc.enumerable, get: () => standIn });
    restores.push(() => Object.defineProperty(process, name, desc));
  });

  const argvDesc = Object.getOwnPropertyDescriptor(process, "argv");
  if (argvDesc?.configurable) {
    const standIn = argvStandIn(() => argvDesc.value as string[], argvQueries, phase);
    Object.defineProperty(process, "argv", {
      configurable: true,
      enumerable: argvDesc.enumerable,
      get: () => standIn,
      set(v) {
        phase.note("wrote process.argv while loading");
        argvDesc.value = v;
      },
    });
    restores.push(() => Object.defineProperty(process, "argv", argvDesc));
  }

  // The working directory joins the key of a tool that reads it while
  // loading, and its warm processes start in the caller's directory.
  const cwd = process.cwd;
  proc.cwd = function cwdProbe() {
    used.cwd = true;
    return cwd.call(process);
  };
  restores.push(() => {
    proc.cwd = cwd;
  });

  // Reads by name are fine: the name joins the key, so a later caller with
  // another value gets another warm process. Enumeration captures everything.
  // Node's own module loader reads a few names per load through process.env.
  const realEnv = process.env;
  const envProxy = new Proxy(realEnv, {
    get(target, key) {
      if (typeof key === "string" && !NODE_INTERNAL_ENV.has(key)) envRead.add(key);
      return Reflect.get(target, key);
    },
    has(target, key) {
      if (typeof key === "string" && !NODE_INTERNAL_ENV.has(key)) envRead.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      phase.note("enumerated process.env while loading");
      return Reflect.ownKeys(target);
    },
  });
  const envDesc = Object.getOwnPropertyDescriptor(process, "env");
  if (envDesc?.configurable !== false) {
    Object.defineProperty(process, "env", { configurable: true, enumerable: true, writable: true, value: envProxy });
    restores.push(() => {
      if (envDesc) Object.defineProperty(process, "env", envDesc);
    });
  }
  return () => {
    for (const restore of restores.reverse()) restore();
  };
}

/**
 * Waits for a promise while still inside Node's synchronous preload phase:
 * turns the event loop by hand (the loop has not started yet, so this is
 * not re-entrant) and runs the microtasks and nextTicks it produces.
 */
function settle(promise: Promise<unknown>): void {
  let state: "pending" | "done" | "failed" = "pending";
  let failure: unknown;
  promise.then(
    () => (state = "done"),
    (error) => {
      state = "failed";
      failure = error;
    },
  );
  const tick = (process as unknown as { _tickCallback(): void })._tickCallback;
  tick.call(process);
  while (state === "pending") {
    if (!native.runLoopOnce()) {
      tick.call(process);
      if (state === "pending") throw new Error("module never finished loading (the event loop went idle)");
    }
    tick.call(process);
  }
  if (state === "failed") throw failure;
}

/**
 * Loads the modules in order. CommonJS modules report which file was being
 * compiled when a trap fired, so the culprit (and the modules that were
 * loading it) are dropped precisely; ESM is attributed to the entry that
 * was being imported.
 */
export function preloadModules(
  modules: ModuleRef[],
  exclude: (id: string) => boolean,
  outputSince: () => boolean,
  requireFrom: NodeJS.Require,
  mask: string,
): PreloadReport {
  const dropped = new Map<string, string>();
  const envRead = new Set<string>();
  const argvQueries: ArgvQuery[] = [];
  const compiling: string[] = [];
  let current = "";
  let clean = true;
  const phase: Phase = {
    preloading: true,
    note(why) {
      clean = false;
      const culprits = compiling.length > 0 ? compiling : [current];
      for (const id of culprits) if (!dropped.has(id)) dropped.set(id, why);
    },
  };

  const proto = (Module as unknown as { prototype: { _compile: CompileFn } }).prototype;
  const compile = proto._compile;
  proto._compile = function (this: { filename?: string }, content: string, filename: string) {
    compiling.push(filename);
    try {
      return compile.call(this, content, filename);
    } finally {
      compiling.pop();
    }
  };
  const used = { cwd: false };
  const filesRead = new Set<string>();
  const removeTraps = installTraps(phase, envRead, argvQueries, mask, used, filesRead);
  try {
    for (const [kind, id] of modules) {
      if (exclude(id) || dropped.has(id)) continue;
      current = id;
      try {
        if (kind === "cjs") requireFrom(id);
        else settle(import(id.startsWith("file:") ? id : pathToFileURL(id).href));
      } catch (error) {
        // A module made to fail by a trap keeps the trap's reason.
        if (!dropped.has(id)) dropped.set(id, `failed to load: ${String((error as Error)?.message ?? error).split("\n")[0]}`);
      }
      if (outputSince()) {
        clean = false;
        dropped.set(id, "wrote output while loading");
      }
    }
  } finally {
    removeTraps();
    phase.preloading = false; // stand-ins kept by modules now forward to the real objects
    proto._compile = compile;
  }
  return { dropped: [...dropped], envRead: [...envRead], argvQueries, cwdRead: used.cwd, filesRead: [...filesRead], clean };
}
