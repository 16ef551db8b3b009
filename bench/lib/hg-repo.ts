// The repository of the `hg status` case: 50 committed files, 3 modified,
// 2 unknown. Made afresh on every bench run, with fixed content and dates.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export function generateHgRepo(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const hg = (...args: string[]) => {
    const r = spawnSync("hg", args, { cwd: dir, encoding: "utf8", env: { ...process.env, HGUSER: "bench", HGPLAIN: "1" } });
    if (r.status !== 0) throw new Error(`hg ${args.join(" ")} failed: ${r.stderr}`);
  };
  hg("init");
  for (let i = 0; i < 50; i++) {
    mkdirSync(join(dir, `dir${i % 5}`), { recursive: true });
    writeFileSync(join(dir, `dir${i % 5}`, `file${i}.txt`), `file ${i}\n`.repeat(20));
  }
  hg("add", "-q");
  hg("commit", "-q", "-m", "fifty files", "-d", "0 0");
  for (const i of [3, 17, 42]) writeFileSync(join(dir, `dir${i % 5}`, `file${i}.txt`), `changed ${i}\n`);
  writeFileSync(join(dir, "unknown1.txt"), "?\n");
  writeFileSync(join(dir, "dir0", "unknown2.txt"), "?\n");
}
