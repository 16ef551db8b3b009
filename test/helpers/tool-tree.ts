// Small trees of files a test writes (a tool under node_modules), and the
// preload records warm keeps of what it learned.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { until } from "./warm-env";

/** Writes `files` (paths relative to dir); returns dir. */
export function writeTree(dir: string, files: Record<string, string>): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

export interface PreloadRecord {
  modules: [kind: string, id: string][];
  dropped: Record<string, string>;
}

/**
 * The preload record that learned a module whose id contains `marker` (and
 * satisfies `ok`), once the daemon has saved it: it saves in batches, a
 * moment after learning, so a record read at once may not exist yet.
 */
export async function savedRecord<R extends PreloadRecord = PreloadRecord>(stateDir: string, marker: string, ok: (r: R) => boolean = () => true): Promise<R> {
  const find = () => {
    const r = preloadRecord(stateDir, marker) as R | undefined;
    return r && ok(r) ? r : undefined;
  };
  await until(`a saved preload record that learned ${marker}`, () => find() !== undefined);
  return find()!;
}

/** The preload record (in a daemon's state dir) that learned a module whose id contains `marker`. */
export function preloadRecord(stateDir: string, marker: string): PreloadRecord | undefined {
  const dir = join(stateDir, "preload");
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  } catch {
    return undefined;
  }
  return files.map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as PreloadRecord).find((r) => r.modules.some(([, id]) => id.includes(marker)));
}
