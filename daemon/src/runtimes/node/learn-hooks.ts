// Module customization hooks (module.register) that report every module the
// tool loads through the ESM loader, so the next warm process preloads it.
// They run on Node's hooks thread and write straight to the runtime link:
// one small frame per module, each a single write, so frames never interleave
// with the main thread's.
import { writeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { encodeFrame } from "./wire";

let fd = -1;

export function initialize(data: { fd: number }): void {
  fd = data.fd;
}

interface LoadResult {
  format?: string | null;
}

export async function load(
  url: string,
  context: unknown,
  nextLoad: (url: string, context: unknown) => Promise<LoadResult>,
): Promise<LoadResult> {
  const result = await nextLoad(url, context);
  // Preloaded the way this load did: CommonJS by require, JSON by an import
  // with its attribute, ES modules by import; others (wasm, addons) are not.
  const kind = result.format === "commonjs" ? "cjs" : result.format === "json" ? "json" : result.format === "module" ? "esm" : null;
  if (fd >= 0 && kind !== null && url.startsWith("file:")) {
    const ref = kind === "cjs" ? [kind, fileURLToPath(url)] : [kind, url];
    try {
      writeSync(fd, encodeFrame({ t: "loaded", modules: [ref] }));
    } catch {
      fd = -1; // the daemon is gone: stop reporting
    }
  }
  return result;
}
