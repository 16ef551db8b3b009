// "Installed" for warm: links on PATH must survive the checkout they came
// from being moved or rebuilt mid-run, so they point at a copy of the shim
// in the data dir (<data>/libexec/warm). That copy finds the daemon as any
// shim does, at <its root>/daemon/dist/main.js, and <data>/daemon is a
// symlink to the daemon's files of the warm that last installed it.
import { copyFileSync, chmodSync, mkdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DataDirs } from "./dirs";

function sameBytes(a: string, b: string): boolean {
  try {
    return readFileSync(a).equals(readFileSync(b));
  } catch {
    return false;
  }
}

function realOr(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/** Replaces `path` by a symlink to `target` in one rename (never a moment without it). */
export function replaceSymlink(target: string, path: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  symlinkSync(target, tmp);
  renameSync(tmp, path);
}

/**
 * Installs (or refreshes) the shim copy and the daemon link from the running
 * shim `shim`. Returns what changed, for the user ([] when nothing did).
 */
export function install(dirs: DataDirs, shim: string): string[] {
  const done: string[] = [];
  const daemonFiles = realOr(join(dirname(shim), "..", "daemon"));
  if (!daemonFiles) throw new Error(`no daemon files next to ${shim}`);
  mkdirSync(dirname(dirs.shim), { recursive: true });
  mkdirSync(dirs.bin, { recursive: true });
  if (realOr(shim) !== realOr(dirs.shim) && !sameBytes(shim, dirs.shim)) {
    // A new file renamed over the old one: a run of the old copy goes on undisturbed.
    const tmp = `${dirs.shim}.tmp-${process.pid}`;
    copyFileSync(shim, tmp);
    chmodSync(tmp, 0o755);
    renameSync(tmp, dirs.shim);
    done.push(`installed the shim: ${dirs.shim}`);
  }
  if (realOr(dirs.daemon) !== daemonFiles) {
    replaceSymlink(daemonFiles, dirs.daemon);
    done.push(`daemon files: ${dirs.daemon} -> ${daemonFiles}`);
  }
  return done;
}

/** Whether `path` is a link of warm's: a symlink whose target is named `warm` (a shim, installed or not). */
export function isWarmLink(path: string): boolean {
  try {
    return /(^|\/)warm$/.test(readlinkSync(path));
  } catch {
    return false;
  }
}
