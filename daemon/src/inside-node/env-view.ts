// What preloading modules see of process.env (inside a warm process).
// Everything a module can learn of the environment while loading must be in
// the pool's key, or the module is dropped:
//   - a read by name (get, `in`, hasOwn, a property descriptor) records the
//     name: its value, unset included, joins the key;
//   - enumerating the names (Object.keys, for-in, spread, JSON.stringify...)
//     records that the set of names joins the key; the values such code goes
//     on to read are reads by name. `debug` (in eslint and mocha) does this:
//     it lists the names and reads those that start with DEBUG_;
//   - starting a process (child_process, with the inherited environment)
//     drops the module: Node hands the child every variable's value, and
//     the output the module keeps could depend on any of them (tinypool, in
//     vitest, runs `cat /proc/cpuinfo | ...` while loading; keying on every
//     value made each `cd` a new pool). The spawn fails while preloading;
//   - writing, defining or deleting a variable drops the module (the run's
//     environment is the caller's, so the write would be lost), unless the
//     write leaves it as it was;
// The warm process's own variables (its runtime link, the NODE_OPTIONS that
// loads warm) are shown as the caller has them. After preloading, the view
// forwards everything to the real process.env.
import type { Phase } from "./stand-ins";
import { callSites } from "./stack-reads";

export interface EnvSeen {
  /** Names read by name while loading. */
  read: Set<string>;
  /** Some module enumerated the names while loading. */
  enumerated: boolean;
}

// Read by Node's module loader itself on every load, not by the tool.
const NODE_INTERNAL = new Set(["WATCH_REPORT_DEPENDENCIES"]);
// Builtins that ask [[GetOwnProperty]] of every name they enumerate only to
// skip non-enumerable ones; the values they keep are read with [[Get]].
const ENUMERATING = new Set(["keys", "entries", "values", "assign", "stringify"]);

/** Names set by the daemon for the warm process, and what the caller had instead (undefined: unset). */
export function ownVariables(env: NodeJS.ProcessEnv): Map<string, string | undefined> {
  return new Map([
    ["WARM_RUNTIME_LINK", undefined],
    ["WARM_NODE_OPTIONS", undefined],
    ["NODE_OPTIONS", env.WARM_NODE_OPTIONS?.startsWith("=") ? env.WARM_NODE_OPTIONS.slice(1) : undefined],
  ]);
}

export function envView(real: NodeJS.ProcessEnv, phase: Phase, seen: EnvSeen): NodeJS.ProcessEnv {
  const own = ownVariables(real);
  const readName = (key: string | symbol) => {
    if (typeof key === "string" && !NODE_INTERNAL.has(key)) seen.read.add(key);
  };
  const shown = (key: string | symbol) => typeof key === "string" && own.has(key);
  return new Proxy(real, {
    get(target, key) {
      if (!phase.preloading) return Reflect.get(target, key);
      readName(key);
      return shown(key) ? own.get(key as string) : Reflect.get(target, key);
    },
    has(target, key) {
      if (!phase.preloading) return Reflect.has(target, key);
      readName(key);
      return shown(key) ? own.get(key as string) !== undefined : Reflect.has(target, key);
    },
    ownKeys(target) {
      const keys = Reflect.ownKeys(target);
      if (!phase.preloading) return keys;
      if (caller()?.getFunctionName() === "normalizeSpawnArguments") {
        phase.note("started a process while loading (it gets the value of every variable)", esModuleOnStack());
        throw new Error("warm does not preload a module that starts a process while loading");
      }
      seen.enumerated = true;
      return keys.filter((k) => !shown(k) || own.get(k as string) !== undefined);
    },
    getOwnPropertyDescriptor(target, key) {
      if (!phase.preloading) return Reflect.getOwnPropertyDescriptor(target, key);
      // Part of an enumeration (already keyed), or a read of this one name.
      if (!enumerating()) readName(key);
      if (!shown(key)) return Reflect.getOwnPropertyDescriptor(target, key);
      const value = own.get(key as string);
      return value === undefined ? undefined : { value, writable: true, enumerable: true, configurable: true };
    },
    // A write that leaves the variable as it was (debug sets DEBUG to its
    // own value, or deletes it when unset) changes nothing a run could see:
    // it is a read of that variable (its value joins the key).
    set(target, key, value) {
      if (phase.preloading) {
        readName(key);
        if (shown(key) || Reflect.get(target, key) !== String(value)) phase.note("wrote process.env while loading");
      }
      return Reflect.set(target, key, value);
    },
    defineProperty(target, key, desc) {
      if (phase.preloading) phase.note("wrote process.env while loading");
      return Reflect.defineProperty(target, key, desc);
    },
    deleteProperty(target, key) {
      if (phase.preloading) {
        readName(key);
        if (shown(key) || Reflect.has(target, key)) phase.note("deleted from process.env while loading");
      }
      return Reflect.deleteProperty(target, key);
    },
  });
}

/**
 * Whether the descriptor trap was called by an enumeration: a builtin that
 * lists names (Object.keys...) or a language operation (for-in, spread,
 * rest), which calls the trap from the module's own frame. An explicit
 * Object.getOwnPropertyDescriptor or hasOwn shows as a builtin frame of that
 * name. If the stack cannot be read, it counts as a read (the safe side).
 */
function enumerating(): boolean {
  const site = caller(enumerating);
  if (!site) return false;
  if (site.getFileName()) return true;
  return ENUMERATING.has(site.getFunctionName() ?? "");
}

/** The innermost ES module (a file: URL) on the stack: whose code is running. */
export function esModuleOnStack(): string | undefined {
  const sites = callSites(esModuleOnStack, 20);
  return Array.isArray(sites) ? (sites.map((s) => s.getFileName()).find((f) => f?.startsWith("file:")) ?? undefined) : undefined;
}

/** The frame that called the trap (`from`: the function the trap called, or this one called from the trap); null if the stack cannot be read. */
function caller(from: (...a: never[]) => unknown = caller): NodeJS.CallSite | null {
  // sites[0] is the trap, sites[1] whoever called it.
  const sites = callSites(from, 3);
  return Array.isArray(sites) ? (sites[1] ?? null) : null;
}
