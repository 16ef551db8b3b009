// ES modules a run loads that its process had not preloaded (runs in the
// process serving the run, spawned or forked). Node's default ESM load reads
// each module's file once, through fs.promises.readFile called from
// getSource, and a module already loaded is never read again; so the process
// notes those reads, and reports them at exit for the next process to
// preload. Nothing else changes: no loader hooks (their thread put warm's
// frames and another header in the stack of every import error), and the
// wrapper returns readFile's own promise, so it is in no async stack.
import { promises as fsp } from "node:fs";
import { fileURLToPath } from "node:url";

export type EsmRef = ["esm" | "json", string];

const LOADER_FILE = "node:internal/modules/esm/load";
// A read of another extension is a file the loader then rejects or does not
// load as a module (.ts without a loader, .wasm): nothing to preload.
const MODULE_FILE = /\.(m?js|json)$/;

/** Whether the caller of the function that calls this is Node's ESM loader, read without running a tool's Error.prepareStackTrace. */
function calledByLoader(): boolean {
  const holder: { stack?: unknown } = {};
  const { prepareStackTrace, stackTraceLimit } = Error;
  Error.prepareStackTrace = (_e, sites) => sites;
  Error.stackTraceLimit = 3;
  try {
    Error.captureStackTrace(holder, calledByLoader);
    const sites = holder.stack as NodeJS.CallSite[] | undefined;
    return sites?.[1]?.getFileName() === LOADER_FILE;
  } finally {
    Error.prepareStackTrace = prepareStackTrace;
    Error.stackTraceLimit = stackTraceLimit;
  }
}

export function noteEsmReads(): () => EsmRef[] {
  const seen: EsmRef[] = [];
  const readFile = fsp.readFile;
  // A method (not a bare function) so its name stays `readFile`, its length the original's.
  const wrapped = {
    readFile(this: unknown, path: unknown, ...rest: unknown[]) {
      if (path instanceof URL && path.protocol === "file:" && MODULE_FILE.test(path.pathname) && calledByLoader()) {
        // Only the loader's own reads; others (a tool reading a config by URL) are not modules.
        seen.push([path.pathname.endsWith(".json") ? "json" : "esm", path.href]);
      }
      return (readFile as (...a: unknown[]) => unknown).call(this, path, ...rest);
    },
  }.readFile;
  Object.defineProperty(wrapped, "length", { value: readFile.length });
  fsp.readFile = wrapped as typeof fsp.readFile;
  // A CommonJS file imported from an ES module is read the same way, then
  // loaded by require's loader: the exit reports it as CommonJS.
  return () => seen.filter(([kind, url]) => kind === "json" || !(fileURLToPath(url) in require.cache));
}
