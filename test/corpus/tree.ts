// A directory's state (every entry's kind, mode and bytes), to compare the
// files a run wrote with a direct run's and to put a project back exactly
// as it was before the next run (the same command must see the same files).
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Entry {
  kind: "dir" | "file" | "link";
  mode: number;
  data: Buffer;
}

export type Tree = Map<string, Entry>;

/** Every entry under dir, by relative path, except those under a path in `skip`. */
export function snapshot(dir: string, skip: string[] = []): Tree {
  const tree: Tree = new Map();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      if (skip.some((s) => path === s || path.startsWith(`${s}/`))) continue;
      const full = join(dir, path);
      const st = lstatSync(full);
      if (st.isSymbolicLink()) tree.set(path, { kind: "link", mode: 0, data: Buffer.from(readlinkSync(full)) });
      else if (st.isDirectory()) {
        tree.set(path, { kind: "dir", mode: st.mode & 0o7777, data: Buffer.alloc(0) });
        walk(path);
      } else tree.set(path, { kind: "file", mode: st.mode & 0o7777, data: readFileSync(full) });
    }
  };
  walk("");
  return tree;
}

/** How two trees differ, one line per path ("" if they are the same). */
export function treeDiff(got: Tree, want: Tree): string {
  const lines: string[] = [];
  for (const [path, w] of want) {
    const g = got.get(path);
    if (!g) lines.push(`${path}: missing (direct run has it)`);
    else if (g.kind !== w.kind) lines.push(`${path}: a ${g.kind}, directly a ${w.kind}`);
    else if (g.mode !== w.mode) lines.push(`${path}: mode ${g.mode.toString(8)}, directly ${w.mode.toString(8)}`);
    else if (!g.data.equals(w.data)) lines.push(`${path}: contents differ (${g.data.length} bytes, directly ${w.data.length})`);
  }
  for (const path of got.keys()) if (!want.has(path)) lines.push(`${path}: written, directly not`);
  return lines.join("\n");
}

/** Puts dir back to `tree`: removes what is new, rewrites in place what changed, recreates what went. */
export function restore(dir: string, tree: Tree, skip: string[] = []): void {
  const now = snapshot(dir, skip);
  // Deepest first, so a new directory goes with its contents.
  for (const path of [...now.keys()].reverse()) {
    const want = tree.get(path);
    if (!want || want.kind !== now.get(path)!.kind) rmSync(join(dir, path), { recursive: true, force: true });
  }
  for (const [path, want] of tree) {
    const full = join(dir, path);
    const got = now.get(path);
    const present = got && got.kind === want.kind;
    if (want.kind === "dir") {
      if (!present) mkdirSync(full);
    } else if (want.kind === "link") {
      if (!present || !got.data.equals(want.data)) {
        rmSync(full, { force: true });
        symlinkSync(want.data.toString(), full);
      }
    } else if (!present || !got.data.equals(want.data)) writeFileSync(full, want.data);
    if (want.kind !== "link" && (!present || got.mode !== want.mode)) chmodSync(full, want.mode);
  }
}
