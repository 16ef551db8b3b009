// Files that loading code reads or looks at besides its modules (a config
// file, data, a path it checks for), through any of node:fs's APIs: sync,
// callback, promises and streams. The daemon watches them like modules, so
// a change to one drops the warm processes that loaded with the old one.
// Each file is noted with the modules that were loading when it was first
// read (the daemon's runtimes/node/changing-files.ts uses them). Runs inside
// the warm process while it preloads; afterwards the wrappers, which modules
// may have kept, only forward.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { wrapFs } from "./fs-wrap";
import type { Phase } from "./stand-ins";

const MAX_FILES_READ = 4096;

// Every fs function whose first argument is a path it reads or looks at.
const SYNC = ["readFileSync", "statSync", "lstatSync", "existsSync", "readdirSync", "openSync", "accessSync", "realpathSync", "opendirSync", "readlinkSync"];
const CALLBACK = ["readFile", "stat", "lstat", "exists", "readdir", "open", "access", "realpath", "opendir", "readlink", "createReadStream"];
const PROMISES = ["readFile", "stat", "lstat", "readdir", "open", "access", "realpath", "opendir", "readlink"];

function pathOf(arg: unknown): string | null {
  try {
    if (typeof arg === "string") return resolve(arg);
    if (Buffer.isBuffer(arg)) return resolve(arg.toString());
    if (arg instanceof URL) return arg.protocol === "file:" ? fileURLToPath(arg) : null;
  } catch {
    // not a path we can name (a bad URL): the call itself will say so
  }
  return null; // an fd: its path was recorded when it was opened
}

/** Wraps the fs functions; returns a function that puts the originals back. `readers()`: the modules loading now, outermost first. */
export function traceFileReads(phase: Phase, files: Map<string, string[]>, readers: () => string[]): () => void {
  const restores: (() => void)[] = [];
  const wrap = (owner: Record<string, unknown>, name: string) => {
    const undo = wrapFs(owner, name, (args) => {
      if (phase.preloading && files.size < MAX_FILES_READ) {
        const path = pathOf(args[0]);
        if (path !== null && !files.has(path)) files.set(path, readers());
      }
    });
    if (undo) restores.push(undo);
  };
  const fs = require("node:fs") as Record<string, unknown>;
  for (const name of [...SYNC, ...CALLBACK]) wrap(fs, name);
  const promises = require("node:fs/promises") as Record<string, unknown>;
  for (const name of PROMISES) wrap(promises, name);
  return () => {
    for (const restore of restores.reverse()) restore();
  };
}
