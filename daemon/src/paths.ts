// Where warm keeps its socket, state and config (XDG base directories),
// and the check that the socket directory is the user's alone.
import { lstatSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface Paths {
  runtimeDir: string;
  socket: string;
  daemonLock: string;
  stateDir: string;
  log: string;
  configFile: string;
}

function xdg(name: string, fallback: string): string {
  const v = process.env[name];
  return v && v.startsWith("/") ? v : fallback;
}

export function resolvePaths(): Paths {
  const uid = process.getuid ? process.getuid() : 0;
  const runtime = process.env.XDG_RUNTIME_DIR;
  const runtimeDir = runtime ? join(runtime, "warm") : `/tmp/warm-${uid}`;
  const stateDir = join(xdg("XDG_STATE_HOME", join(homedir(), ".local", "state")), "warm");
  return {
    runtimeDir,
    socket: join(runtimeDir, "daemon.sock"),
    daemonLock: join(runtimeDir, "daemon.lock"),
    stateDir,
    log: join(stateDir, "daemon.log"),
    configFile: join(xdg("XDG_CONFIG_HOME", join(homedir(), ".config")), "warm", "config.json"),
  };
}

/**
 * Creates the runtime dir 0700 if missing; throws with a clear message if it
 * exists but another user owns it or others may enter it (the socket hands
 * out the caller's terminal, so nobody else may reach it).
 */
export function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const st = lstatSync(dir);
  const uid = process.getuid ? process.getuid() : 0;
  if (!st.isDirectory()) throw new Error(`refusing ${dir}: not a directory`);
  if (st.uid !== uid) throw new Error(`refusing ${dir}: owned by uid ${st.uid}, not ${uid}`);
  if ((st.mode & 0o077) !== 0) throw new Error(`refusing ${dir}: mode ${(st.mode & 0o777).toString(8)} lets others in (must be 0700)`);
}
