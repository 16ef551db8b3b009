// ES modules a forked child loads that its template had not (runs in the
// child). A template cannot have the loader's hooks thread that reports
// them in a spawned process (learn-hooks.ts), so the child notes the
// sources Node's ESM loader reads: its default load reads each module's
// file once, through fs.promises.readFile called from getSource, and a
// module the template preloaded is never read again. The daemon learns them
// at exit, so the next template preloads them.
import { promises as fsp } from "node:fs";

export type EsmRef = ["esm" | "json", string];

const LOADER_FRAME = "(node:internal/modules/esm/load:";

export function noteEsmReads(): () => EsmRef[] {
  const seen: EsmRef[] = [];
  const readFile = fsp.readFile;
  fsp.readFile = function (this: unknown, path: unknown, ...rest: unknown[]) {
    if (path instanceof URL && path.protocol === "file:") {
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 2;
      const stack = new Error().stack ?? "";
      Error.stackTraceLimit = limit;
      // Only the loader's own reads; others (a tool reading a config by URL) are not modules.
      if (stack.includes(LOADER_FRAME)) {
        const url = path.href;
        if (url.endsWith(".json")) seen.push(["json", url]);
        else if (!url.endsWith(".wasm")) seen.push(["esm", url]);
      }
    }
    return (readFile as (...a: unknown[]) => unknown).call(this, path, ...rest);
  } as typeof fsp.readFile;
  return () => seen;
}
