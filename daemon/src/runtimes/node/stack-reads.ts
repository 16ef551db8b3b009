// A stack taken while a module loads names warm's preloading frames where a
// direct run has the requiring module's and the entry's (parent-module,
// callsites()[n] and depd find their requirer this way). Those frames cannot
// be made the direct run's, so a module whose loading reads a stack is not
// preloaded. Every formatting of a stack (`err.stack`, after
// Error.captureStackTrace too) asks Error.prepareStackTrace first, as does
// code that swaps in its own to get call sites: a getter on it sees both.
// Node formats stacks itself too (the CommonJS loader while compiling, the
// ES loader to decorate a failed import's error): a read whose reader is
// Node's own code does not count, and a read counts only for a module that
// then loads without any other trap firing (preload.ts decides).

export const STACK_READ = "read a stack trace while loading (its frames would be warm's, not the requiring module's)";

/** Calls `read` for each stack read while the trap is in; returns a function that removes it (keeping what a module set). */
export function traceStackReads(read: () => void): () => void {
  const desc = Object.getOwnPropertyDescriptor(Error, "prepareStackTrace");
  let value = desc?.value as unknown;
  Object.defineProperty(Error, "prepareStackTrace", {
    configurable: true,
    enumerable: desc?.enumerable ?? false,
    get: function get() {
      if (warmsOwn === 0 && !askedByNode(get)) read();
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
 * Whether the code asking for Error.prepareStackTrace (the frame above
 * `getter`, past Node's formatting callback) is Node's own. Inside a
 * formatting V8 gives a nested capture as a string, hence both forms.
 */
function askedByNode(getter: (...a: never[]) => unknown): boolean {
  const sites = callSites(getter, 4);
  const files = Array.isArray(sites) ? sites.map((s) => s.getFileName() ?? "") : String(sites ?? "").split("\n").slice(1).map((l) => /\(?([^\s()]+):\d+:\d+\)?$/.exec(l)?.[1] ?? "");
  const reader = files.find((f) => f !== "node:internal/errors");
  return reader !== undefined && reader.startsWith("node:");
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
