// Loads a tool's learned modules into a warm process before any request,
// and notices every module that captured per-invocation state while
// loading: the process's stdio streams, argv, cwd, or the whole env. Such a
// module would run with the preloading process's values instead of the
// caller's, so it is dropped from the set and the process is not used.
// What the key can pin down is reported instead of dropped: env variables
// read by name, questions asked of argv, the tty-ness of stdio (see
// stand-ins.ts) and the working directory.
import Module = require("node:module");
import { realpathSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { native } from "../native";
import { type EnvSeen, envView } from "./env-view";
import { traceFileReads } from "./file-reads";
import { trapFileWrites } from "./file-writes";
import { trapNetwork } from "./network";
import { noteLoadTimers } from "./load-timers";
export { restartLoadTimers } from "./load-timers";
import { installedRule } from "../runtimes/node/installed";
import { STACK_READ, traceStackReads } from "./stack-reads";
import { slicesChanged } from "./argv-slices";
import type { ArgvQuery } from "../protocol/message-types";
import { argvStandIn, mainModuleStandIn, type Phase, stdioStandIn } from "./stand-ins";
import { titleWatch, trapProcessState } from "./process-state";
import { trapLoadWarnings } from "./load-warnings";
import { runTicks } from "./run-ticks";

/** cjs: required; esm: imported; json: imported with `type: "json"` (as ESM imports JSON). */
export type ModuleRef = [kind: "cjs" | "esm" | "json", id: string];

export interface PreloadReport {
  dropped: [id: string, why: string][];
  envRead: string[];
  /** Some module enumerated process.env's names while loading: the set of names joins the key. */
  envEnumerated: boolean;
  argvQueries: ArgvQuery[];
  /** Some module read process.cwd() while loading. */
  cwdRead: boolean;
  /** Files read or looked at through fs while loading (config files, data): a change to one makes the process stale. */
  filesRead: string[];
  /** Of those, the ones that are not modules, each with the modules that were loading when it was read (outermost first). */
  readBy: [file: string, modules: string[]][];
  /** False when some module captured per-invocation state: do not use this process. */
  clean: boolean;
}

/** The reason given for a module that threw while loading (not a drop: it leaves the list until a run loads it again). */
export const FAILED = "failed to load";

type CompileFn = (this: { filename?: string }, content: string, filename: string) => unknown;

/**
 * Installs the traps; returns a function that removes them, and the stand-in
 * for require.main (a CommonJS entry's), which is also the parent of the
 * modules the entry requires (see `parent` in stand-ins.ts).
 */
function installTraps(phase: Phase, env: EnvSeen, argvQueries: ArgvQuery[], mask: string, used: { cwd: boolean }, filesRead: Map<string, string[]>, readers: () => string[], loader: object): { remove: () => void; main?: object } {
  const restores: (() => void)[] = [];
  const proc = process as unknown as Record<string, unknown>;

  // What loading code reads from disk besides modules (a config file read
  // at load time): the daemon watches it like a module.
  restores.push(traceFileReads(phase, filesRead, readers));
  restores.push(trapFileWrites(phase));
  restores.push(trapNetwork(phase));
  restores.push(trapProcessState(phase));
  restores.push(trapLoadWarnings(phase));
  restores.push(noteLoadTimers(phase));

  // os.homedir() and os.tmpdir() read HOME and TMPDIR (TMP, TEMP) in C,
  // past the process.env trap below: record them as reads by name.
  const osMod = require("node:os") as Record<string, unknown>;
  for (const [name, vars] of [["homedir", ["HOME"]], ["tmpdir", ["TMPDIR", "TMP", "TEMP"]]] as const) {
    const original = osMod[name] as () => string;
    osMod[name] = function (this: unknown) {
      if (phase.preloading) for (const v of vars) env.read.add(v);
      return original.call(this);
    };
    restores.push(() => {
      osMod[name] = original;
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

  // main.ts stands in for require.main until the entry's module exists
  // (a CommonJS entry: a direct run's modules see it); while loading, this
  // one answers what is known of it.
  const mainDesc = Object.getOwnPropertyDescriptor(process, "mainModule");
  let main: object | undefined;
  if (mainDesc?.get && mainDesc.configurable) {
    const entry = resolve(process.argv[1]);
    const filename = process.execArgv.includes("--preserve-symlinks-main") ? entry : realpathSync(entry);
    const standIn = (main = mainModuleStandIn(filename, phase, loader));
    Object.defineProperty(process, "mainModule", { configurable: true, enumerable: mainDesc.enumerable, get: () => standIn });
    restores.push(() => Object.defineProperty(process, "mainModule", mainDesc));
  }

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
  // another value gets another warm process. Enumerating the names is fine
  // too: the set of names then joins the key (see env-view.ts).
  const realEnv = process.env;
  const envProxy = envView(realEnv, phase, env);
  const envDesc = Object.getOwnPropertyDescriptor(process, "env");
  if (envDesc?.configurable !== false) {
    Object.defineProperty(process, "env", { configurable: true, enumerable: true, writable: true, value: envProxy });
    restores.push(() => {
      if (envDesc) Object.defineProperty(process, "env", envDesc);
    });
  }
  return {
    remove: () => {
      for (const restore of restores.reverse()) restore();
    },
    main,
  };
}

/** Runs the nextTick callbacks and microtasks queued so far (as Node does after a callback). */
function runDeferred(): void {
  runTicks();
}

/**
 * Waits for a promise while still inside Node's synchronous preload phase:
 * turns the event loop by hand (the loop has not started yet, so this is
 * not re-entrant) and runs the microtasks and nextTicks it produces.
 * A turn can leave the loop empty with the promise still pending: the ESM
 * loader reads a module as a chain of fs requests (open, stat, read,
 * close), each started by a microtask of the one before, and microtasks run
 * only here, between turns (a callback's own microtask checkpoint is
 * skipped while JS is on the stack). So the loop is judged idle only after
 * the queued ticks and microtasks have had their chance to start more work.
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
  runTicks();
  while (state === "pending") {
    if (!native.loopAlive()) throw new Error("module never finished loading (the event loop went idle)");
    native.runLoopOnce();
    runTicks();
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
  requireFrom: NodeJS.Module,
  mask: string,
): PreloadReport {
  const dropped = new Map<string, string>();
  const env: EnvSeen = { read: new Set(), enumerated: false };
  const argvQueries: ArgvQuery[] = [];
  const compiling: string[] = [];
  let current = "";
  let clean = true;
  /** The innermost module blamed by the last trap, and how many traps fired. */
  let culprit = "";
  let notes = 0;
  /** How many traps had fired when the current module started loading. */
  let notesBefore = 0;
  const phase: Phase = {
    preloading: true,
    note(why, module) {
      clean = false;
      notes++;
      // An ES module is not on the CommonJS compile stack: the import being preloaded is blamed, and the module whose code did it when known.
      const culprits = compiling.length > 0 ? compiling : module !== undefined && module !== current ? [current, module] : [current];
      culprit = culprits[culprits.length - 1];
      for (const id of culprits) if (!dropped.has(id)) dropped.set(id, why);
    },
  };
  // An ES module that failed because a trap fired keeps failing with the same
  // error for every later importer: each of those loads the culprit too.
  const trapErrors = new WeakMap<object, string>();
  // A promise left rejected while loading would end a direct run (or warn):
  // the module is dropped, and the process is not used (rather than dying).
  const rejected = (reason: unknown) => {
    if (notes === notesBefore) return phase.note(`left a promise rejected while loading (${String((reason as Error)?.message ?? reason).split("\n")[0]})`);
    if (!dropped.has(current)) dropped.set(current, dependentWhy(culprit, dropped)); // the rejection of a trapped module's import
  };
  process.on("unhandledRejection", rejected);

  const proto = (Module as unknown as { prototype: { _compile: CompileFn } }).prototype;
  const compile = proto._compile;
  // An installed module that requires a module of the project while loading
  // would run the project's top-level code here: it is dropped, and the
  // project's module does not run (see installed.ts).
  const entry = resolve(process.argv[1]);
  const installed = installedRule(process.execArgv.includes("--preserve-symlinks-main") ? entry : realpathSync(entry), process.execPath, process.env.HOME);
  const warmDist = dirname(__dirname);
  proto._compile = function (this: { filename?: string }, content: string, filename: string) {
    compiling.push(filename);
    try {
      if (!installed(filename) && !filename.startsWith(warmDist + "/")) {
        phase.note(`loaded ${filename}, a module of the project (not installed code), while loading`);
        throw new Error(`warm does not preload ${filename}: not installed code`);
      }
      return compile.call(this, content, filename);
    } finally {
      compiling.pop();
    }
  };
  const used = { cwd: false };
  const filesRead = new Map<string, string[]>();
  const readers = () => [...new Set([current, ...compiling])].filter((id) => id !== "");
  const traps = installTraps(phase, env, argvQueries, mask, used, filesRead, readers, requireFrom);
  // Modules that read a stack while loading (the innermost CommonJS one being compiled, or the ES import).
  const stackReaders = new Set<string>();
  const removeStackTrap = traceStackReads(() => {
    if (phase.preloading) stackReaders.add(compiling.length > 0 ? compiling[compiling.length - 1] : current);
  });
  // A CommonJS entry's requires see it as their module.parent, as directly: the stand-in that is require.main.
  const parent = traps.main ?? requireFrom;
  const requireModule = (id: string) => (Module.prototype as unknown as { require(this: object, id: string): unknown }).require.call(parent, id);
  const titleChanged = titleWatch(phase);
  try {
    for (const [kind, id] of modules) {
      if (exclude(id) || dropped.has(id)) continue;
      current = id;
      notesBefore = notes;
      stackReaders.clear();
      let loaded = false;
      try {
        const url = () => (id.startsWith("file:") ? id : pathToFileURL(id).href);
        if (kind === "cjs") {
          requireModule(id);
          // Callbacks it left (nextTick, promise reactions) run now, still
          // blamed on it: what they write or trap drops it, rather than
          // running later in this process where no caller sees it.
          runDeferred();
        }
        else if (kind === "json") settle(import(url(), { with: { type: "json" } }));
        else settle(import(url()));
        loaded = true;
      } catch (error) {
        const cause = notes > notesBefore ? culprit : typeof error === "object" && error !== null ? trapErrors.get(error) : undefined;
        if (cause !== undefined && typeof error === "object" && error !== null) trapErrors.set(error, cause);
        // A module made to fail by a trap keeps the trap's reason; one that failed through a trapped module is dropped with it.
        if (!dropped.has(id)) dropped.set(id, cause !== undefined && cause !== id ? dependentWhy(cause, dropped) : `${FAILED}: ${String((error as Error)?.message ?? error).split("\n")[0]}`);
      }
      // An ES module is not on the CommonJS compile stack the traps blame: one whose import fired a trap loads the culprit.
      if (notes > notesBefore && !dropped.has(id)) dropped.set(id, dependentWhy(culprit, dropped));
      // A stack read counts for a module that loaded with no other trap firing (Node reads a failed import's stack itself).
      if (loaded && notes === notesBefore && stackReaders.size > 0) {
        clean = false;
        for (const reader of stackReaders) if (!dropped.has(reader)) dropped.set(reader, STACK_READ);
        if (!dropped.has(id)) dropped.set(id, dependentWhy([...stackReaders][0], dropped));
      }
      titleChanged();
      if (slicesChanged()) phase.note("changed a slice of process.argv while loading");
      if (outputSince()) {
        clean = false;
        dropped.set(id, "wrote output while loading");
      }
    }
  } finally {
    process.off("unhandledRejection", rejected);
    traps.remove();
    removeStackTrap();
    phase.preloading = false; // stand-ins kept by modules now forward to the real objects
    proto._compile = compile;
  }
  dropDependents(dropped);
  // Every file the process now holds loaded is watched, whether learned or loaded by a learned module.
  const readBy = [...filesRead].filter(([file]) => require.cache[file] === undefined);
  const files = new Set([...filesRead.keys(), ...Object.keys(require.cache).filter((id) => id.startsWith("/"))]);
  return { dropped: [...dropped], envRead: [...env.read], envEnumerated: env.enumerated, argvQueries, cwdRead: used.cwd, filesRead: [...files], readBy, clean };
}

/**
 * A module that loads a dropped module is dropped with it: preloading it
 * would load the culprit again. The CommonJS graph (each module's children,
 * cached ones included) finds every such module in this one process, so the
 * next warm process does not discover them one at a time.
 */
function dropDependents(dropped: Map<string, string>): void {
  const root = new Map<string, string>();
  for (const [id, why] of dropped) if (!why.startsWith(FAILED)) root.set(id, id);
  if (root.size === 0) return;
  const cache = require.cache;
  for (let changed = true; changed; ) {
    changed = false;
    for (const [id, m] of Object.entries(cache)) {
      if (!m || root.has(id) || dropped.has(id)) continue;
      const culprit = m.children?.find((child) => root.has(child.id)); // an ES module require() loaded has no children list
      if (!culprit) continue;
      const cause = root.get(culprit.id)!;
      root.set(id, cause);
      dropped.set(id, dependentWhy(cause, dropped));
      changed = true;
    }
  }
}

/** Why a module that loads a dropped one is dropped (runtime.ts reads the cause back from it). */
function dependentWhy(cause: string, dropped: Map<string, string>): string {
  const why = dropped.get(cause) ?? "was dropped";
  const root = /^loads (\S+), which (.*)$/s.exec(why);
  return root ? why : `loads ${cause}, which ${why}`;
}
