// A stack taken while a module loads names warm's preloading frames where a
// direct run has the requiring module's and the entry's (parent-module,
// callsites()[n] and depd find their requirer this way). Those frames cannot
// be made the direct run's, so a module whose loading reads a stack is not
// preloaded. Every formatting of a stack (`err.stack`, after
// Error.captureStackTrace too) asks Error.prepareStackTrace first, as does
// code that swaps in its own to get call sites: a getter on it sees both.
// A read counts only if the frames the reader gets include one of warm's
// (a webpack bundle reading its own caller deep in its own frames, as yarn
// does, sees what it would directly). Node formats stacks itself too (the
// CommonJS loader while compiling, the ES loader to decorate a failed
// import's error): those do not count, and a read counts only for a module
// that then loads without any other trap firing (preload.ts decides).
import { dirname } from "node:path";

const WARM_DIST = dirname(__dirname) + "/";

export const STACK_READ = "read a stack trace while loading (its frames would be warm's, not the requiring module's)";

/** Calls `read` for each stack read while the trap is in; returns a function that removes it (keeping what a module set). */
export function traceStackReads(read: () => void): () => void {
  const desc = Object.getOwnPropertyDescriptor(Error, "prepareStackTrace");
  let value = desc?.value as unknown;
  Object.defineProperty(Error, "prepareStackTrace", {
    configurable: true,
    enumerable: desc?.enumerable ?? false,
    get: function get() {
      if (warmsOwn === 0 && showsWarm(get)) read();
      return value;
    },
    set(v: unknown) {
      value = v;
    },
  });
  return () => {
    if (desc && value === desc.value) Object.defineProperty(Error, "prepareStackTrace", desc);
    else if (!desc && value === undefined) delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
    else Object.defineProperty(Error, "prepareStackTrace", { configurable: true, enumerable: false, writable: true, value });
  };
}

let warmsOwn = 0;

/**
 * Whether a stack read now can show what a direct run would not: a frame of
 * warm's (every preloaded module loads under preload.js's frames) within
 * the frames the reader gets (Error.stackTraceLimit, past the getter and
 * Node's formatting callback). A reader that is Node's own code does not
 * count. Inside a formatting V8 gives a nested capture as a string, hence
 * both forms.
 */
function showsWarm(getter: (...a: never[]) => unknown): boolean {
  const limit = typeof Error.stackTraceLimit === "number" ? Error.stackTraceLimit : 10;
  const sites = callSites(getter, limit + 2);
  const files = Array.isArray(sites) ? sites.map((s) => s.getFileName() ?? "") : String(sites ?? "").split("\n").slice(1).map((l) => /\(?([^\s()]+):\d+:\d+\)?$/.exec(l)?.[1] ?? "");
  const from = files.findIndex((f) => f !== "node:internal/errors");
  if (from < 0) return true; // unreadable: the safe side
  if (files[from].startsWith("node:")) return false;
  return files.slice(from, from + limit).some((f) => f.startsWith(WARM_DIST));
}

/**
 * The call sites above `from`, for warm's own traps (read without running a
 * tool's Error.prepareStackTrace, and not counted as a module's read); the
 * formatted stack while V8 formats another; null if it cannot be read.
 */
export function callSites(from: (...a: never[]) => unknown, limit: number): NodeJS.CallSite[] | string | null {
  warmsOwn++;
  const { prepareStackTrace, stackTraceLimit } = Error;
  try {
    Error.prepareStackTrace = (_error, sites) => sites;
    Error.stackTraceLimit = limit;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, from);
    // A string while V8 is formatting another stack (it does not call the callback again).
    return Array.isArray(holder.stack) ? (holder.stack as NodeJS.CallSite[]) : typeof holder.stack === "string" ? holder.stack : null;
  } finally {
    Error.prepareStackTrace = prepareStackTrace;
    Error.stackTraceLimit = stackTraceLimit;
    warmsOwn--;
  }
}
