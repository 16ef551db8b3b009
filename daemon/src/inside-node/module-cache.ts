// The tool's view of require.cache when its run starts. Directly, the entry
// is the first module in it and its requires follow in the order they
// load; here the preloaded modules are already there. warm's own modules
// leave it, and a CommonJS entry goes first as Node caches it, so a run
// that loads what was preloaded lists the cache exactly as a direct run
// does. (Modules a run loads that were not preloaded come after the
// preloaded ones; a direct run would interleave them.)
import { realpathSync } from "node:fs";
import { resolve } from "node:path";

export function tidyModuleCache(warmDist: string, mainIsCjs: boolean): void {
  const cache = require.cache as Record<string, NodeModule | undefined>;
  for (const id of Object.keys(cache)) if (id.startsWith(warmDist)) delete cache[id];
  if (!mainIsCjs) return;
  const entry = resolve(process.argv[1]);
  let filename: string;
  try {
    filename = process.execArgv.includes("--preserve-symlinks-main") ? entry : realpathSync(entry);
  } catch {
    return; // Node reports a missing entry itself
  }
  if (Object.hasOwn(cache, filename)) return;
  // Node reads the entry's slot (empty), then fills it: the setter puts it
  // first. An accessor, not a wrapped function, so no frame of warm's is on
  // the entry's stack; not enumerable, and gone after the first tick if
  // Node never fills it.
  const remove = () => delete cache[filename];
  Object.defineProperty(cache, filename, {
    configurable: true,
    enumerable: false,
    get: () => undefined,
    set(m: NodeModule) {
      remove();
      const rest = Object.entries(cache);
      for (const [id] of rest) delete cache[id];
      cache[filename] = m;
      for (const [id, other] of rest) cache[id] = other;
    },
  });
  process.nextTick(() => {
    if (Object.getOwnPropertyDescriptor(cache, filename)?.set) remove();
  });
}
