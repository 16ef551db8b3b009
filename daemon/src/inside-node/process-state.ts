// A module that changes the process's working directory, umask or title
// while loading does what a direct run keeps for the rest of the run, and
// a warm process puts the caller's in its place when it takes the run: so
// it is not preloaded, and does it in the run, as directly. Reading the
// umask is no key fact for Node (a caller's may differ): it drops the module
// too. Runs inside the warm process while it preloads; afterwards the
// originals are back.
import type { Phase } from "./stand-ins";

/** Wraps process.chdir and process.umask; returns a function that puts the originals back. */
export function trapProcessState(phase: Phase): () => void {
  const proc = process as unknown as Record<string, unknown>;
  const chdir = process.chdir;
  const umask = process.umask;
  proc.chdir = function chdirWhileLoading(this: unknown, dir: string) {
    if (phase.preloading) phase.note("changed the working directory while loading (a warm process takes on its caller's)");
    return chdir.call(process, dir);
  };
  proc.umask = function umaskWhileLoading(this: unknown, ...mask: unknown[]) {
    if (phase.preloading) phase.note(mask.length ? "changed the umask while loading (a warm process takes on its caller's)" : "read the umask while loading (a caller's may differ)");
    return (umask as (...a: unknown[]) => number).apply(process, mask);
  };
  return () => {
    proc.chdir = chdir;
    proc.umask = umask;
  };
}

/**
 * process.title is a native accessor (it shows as a data property, and
 * redefining it would lose what it does), so it is compared around each
 * module instead: a module that set it is noted.
 */
export function titleWatch(phase: Phase): () => void {
  let before = process.title;
  return () => {
    if (process.title !== before) phase.note("set process.title while loading (a warm process shows the caller's command)");
    before = process.title;
  };
}
