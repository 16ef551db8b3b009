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
 * The preload record that learned a module whose id contains `marker`, as
 * the daemon knows it now: the daemon saves in batches, a moment after
 * learning, so this waits until its status says nothing learned is unsaved.
 */
export async function savedRecord<R extends PreloadRecord = PreloadRecord>(w: { stateDir: string; status(): { unsavedLearning: number } | null }, marker: string): Promise<R> {
  await until(`the daemon to have saved what it learned, a record that learned ${marker} among it`, () => w.status()?.unsavedLearning === 0 && preloadRecord(w.stateDir, marker) !== undefined);
  return preloadRecord(w.stateDir, marker) as R;
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
