// A module that changes files while loading (writes, creates, removes,
// renames; opens one for writing) is doing a run's work: preloading it would
// do that work in a process that may never serve a run, with the arguments
// of the run that made the pool (TypeScript's _tsc.js compiles, and emits,
// at load). Such a call fails while preloading (nothing is changed), the
// module is dropped, and it runs in the run, as directly. Runs inside the
// warm process while it preloads; afterwards the wrappers only forward.
import type { Phase } from "./stand-ins";
import { esModuleOnStack } from "./env-view";
import { wrapFs } from "./fs-wrap";

const SYNC = ["writeFileSync", "appendFileSync", "mkdirSync", "mkdtempSync", "rmSync", "rmdirSync", "unlinkSync", "renameSync", "copyFileSync", "cpSync", "symlinkSync", "linkSync", "truncateSync", "chmodSync", "chownSync", "lchownSync", "utimesSync", "lutimesSync"];
const CALLBACK = ["writeFile", "appendFile", "mkdir", "mkdtemp", "rm", "rmdir", "unlink", "rename", "copyFile", "cp", "symlink", "link", "truncate", "chmod", "chown", "lchown", "utimes", "lutimes", "createWriteStream"];
const PROMISES = CALLBACK.filter((name) => name !== "createWriteStream");
// open() with these flags may create or change the file.
const OPENS = ["openSync", "open"];

function writes(flags: unknown): boolean {
  if (typeof flags === "number") return (flags & 3) !== 0 || (flags & 0o1000) !== 0; // O_WRONLY/O_RDWR, O_TRUNC
  return typeof flags === "string" && /[wa+]/.test(flags);
}

/** Wraps the fs functions that change files; returns a function that puts the originals back. */
export function trapFileWrites(phase: Phase): () => void {
  const restores: (() => void)[] = [];
  const wrap = (owner: Record<string, unknown>, name: string, changes: (args: unknown[]) => boolean) => {
    const undo = wrapFs(owner, name, (args) => {
      if (!phase.preloading || !changes(args)) return;
      phase.note(`changed files while loading (fs.${name})`, esModuleOnStack());
      throw new Error(`warm does not preload a module that changes files while loading (fs.${name})`);
    });
    if (undo) restores.push(undo);
  };
  const always = () => true;
  const fs = require("node:fs") as Record<string, unknown>;
  for (const name of [...SYNC, ...CALLBACK]) wrap(fs, name, always);
  for (const name of OPENS) wrap(fs, name, (args) => writes(args[1]));
  const promises = require("node:fs/promises") as Record<string, unknown>;
  for (const name of PROMISES) wrap(promises, name, always);
  wrap(promises, "open", (args) => writes(args[1]));
  return () => {
    for (const restore of restores.reverse()) restore();
  };
}
