// The warm daemon: started by the shim when none answers. One per user and
// runtime dir, guaranteed by a lock held for its whole life; it recovers a
// socket left by a dead daemon, and exits after its idle timeout.
import { chmodSync, unlinkSync, utimesSync, writeSync } from "node:fs";
import { ChangeWatch } from "./change-watch";
import { ConfigSource } from "./config";
import { Daemon } from "./daemon";
import { createLogger } from "./log";
import { native } from "./native";
import { at, openPrivateDir, resolvePaths } from "./paths";
import { PreloadStore } from "./preload-store";
import { Limits } from "./limits";
import { NodeRuntime } from "./runtimes/node/runtime";
import { PythonRuntime } from "./runtimes/python/runtime";
import { CoprocessRuntime } from "./runtimes/coprocess/runtime";
import type { WarmRuntime } from "./runtimes/runtime";
import { fromSystemd } from "./systemd";
import { Listener } from "./transport";
import { WARM_VERSION } from "./version";
import { dirname, join } from "node:path";

/**
 * The socket's mtime says the loop runs: a shim finding it older than a
 * few seconds (client-shim/daemon.c, HEARTBEAT_STALE_S) sends this daemon
 * no fds, which would sit in a queue nobody reads, holding the caller's
 * pipes. Its atime 0 says a daemon keeps this heartbeat at all (a socket
 * systemd holds before the first activation has its creation time there).
 */
function heartbeat(socket: string, now: number): void {
  try {
    utimesSync(socket, 0, now / 1000);
  } catch {
    // gone while stopping
  }
}

/** The fd the shim passed for "ready" (`--ready-fd=N`), or null when started otherwise. */
function readyFd(): number | null {
  const arg = process.argv.slice(2).find((a) => a.startsWith("--ready-fd="));
  const fd = arg ? Number(arg.slice("--ready-fd=".length)) : NaN;
  return Number.isInteger(fd) && fd > 2 ? fd : null;
}

function main(): void {
  // The shim waits on this pipe: "ready" once the socket listens, or EOF
  // when this process exits first (any failure below), as tmux's server
  // tells its client. Close-on-exec at once: no warm process may hold it.
  let ready = readyFd();
  try {
    if (ready !== null) native.setCloexec(ready, true);
  } catch {
    ready = null; // not an open fd: nobody waits
  }
  const paths = resolvePaths();
  const log = createLogger(paths.log, process.env.WARM_LOG_LEVEL ?? "info");
  const fatal = (message: string, extra: object = {}) => {
    log.fatal(extra, message);
    log.flush();
    process.stderr.write(`warm daemon: ${message}\n`);
    process.exit(1);
  };
  let dir: number;
  try {
    dir = openPrivateDir(paths.runtimeDir);
  } catch (error) {
    return fatal((error as Error).message);
  }
  const systemd = fromSystemd(log);
  // Everything in the runtime dir goes through dir, the fd of the
  // directory just checked: a path swapped meanwhile is never used.
  const lock = native.lockFile(at(dir, "daemon.lock"));
  if (lock < 0) {
    // Another daemon holds the lock: it serves this socket.
    log.info("another daemon holds the lock; exiting");
    log.flush();
    process.exit(0);
  }
  process.chdir("/"); // never pin the directory the first caller happened to be in

  // Under socket activation the socket is systemd's: never unlinked by us.
  const ownSocket = systemd.listenFd === null;
  const socketAt = at(dir, "daemon.sock");
  const removeSocket = () => {
    try {
      if (ownSocket) unlinkSync(socketAt);
    } catch {
      // already gone
    }
  };
  let listenFd: number;
  if (systemd.listenFd !== null) listenFd = systemd.listenFd;
  else {
    removeSocket(); // left by a dead daemon: we hold the lock, so it is stale
    try {
      listenFd = native.listenUnix(socketAt, 511);
      chmodSync(socketAt, 0o600);
    } catch (error) {
      return fatal(`cannot listen on ${paths.socket}: ${(error as Error).message}`);
    }
  }
  try {
    unlinkSync(at(dir, "unresponsive")); // a shim's note about a daemon before this one
  } catch {
    // none
  }
  if (ready !== null) {
    try {
      writeSync(ready, "ready\n");
    } catch {
      // the shim gave up waiting; the next one will find us listening
    }
    native.close(ready);
  }

  const config = new ConfigSource(
    paths.configFile,
    (error) => log.error({ error }, "config error; using defaults"),
    (warning) => log.warn({ warning }, "config warning"),
  );
  const store = new PreloadStore(join(paths.stateDir, "preload"), log);
  const runtimes: WarmRuntime[] = [];
  const limits: Limits = new Limits(
    () => config.current,
    () => runtimes.flatMap((r) => [...r.pools.values()]),
    (): { count: number; kib: number } => python.others(),
  );
  const changes = new ChangeWatch(
    (tools) => {
      for (const runtime of runtimes) runtime.invalidate(tools);
    },
    (why) => log.warn({ why }, "change watch"),
    [paths.runtimeDir, paths.stateDir, dirname(paths.log)],
  );
  const node = new NodeRuntime(store, log, () => config.current, limits, changes);
  const python: PythonRuntime = new PythonRuntime(store, log, () => config.current, limits, changes);
  runtimes.push(node, python, new CoprocessRuntime(store, log, () => config.current, limits, changes));
  // Stopping (`warm stop`, SIGTERM, the idle timeout, a shim of another
  // warm version) steps aside at once: socket and lock go, so the next shim
  // starts a new daemon, and idle warm processes are let go; the tools
  // already running finish here and are reported as usual, and the daemon
  // exits after the last. `now` ends those tools instead.
  const stop = (why: string, now: boolean) => {
    if (!daemon.stopping) {
      daemon.stopping = true;
      log.info({ why, now }, "daemon stopping");
      systemd.stopping();
      listener.close();
      removeSocket();
      native.close(lock);
      for (const runtime of runtimes) runtime.closeAll();
      changes.close();
      store.flush();
      void daemon.idle().then(() => Promise.all(runtimes.map((runtime) => runtime.ended?.()))).then(() => {
        store.flush();
        log.info("daemon stopped");
        log.flush();
        process.exit(0);
      });
    }
    if (now) daemon.endRunning();
  };
  const daemon = new Daemon(runtimes, changes, limits, config, log, stop, WARM_VERSION, store);
  const uid = process.getuid ? process.getuid() : 0;
  const listener = new Listener(listenFd, uid, daemon, (other) => log.warn({ uid: other }, "refused a connection from another user"));

  // A bug in one request's handling must not take every running tool's
  // daemon down with it: log it loudly and keep serving.
  process.on("uncaughtException", (error) => log.error({ err: error.stack ?? String(error) }, "uncaught exception"));
  process.on("unhandledRejection", (error) => log.error({ err: (error as Error)?.stack ?? String(error) }, "unhandled rejection"));
  // The first SIGTERM or SIGINT lets running tools finish; a second ends them.
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => stop(signal, daemon.stopping));
  process.on("SIGHUP", () => {}); // the shim's terminal closing is not our business
  // A warm tool's parent is the daemon: one telling its parent something (kill(ppid, SIGUSR1)) must neither kill it
  // (SIGUSR2's default) nor open Node's inspector on 127.0.0.1:9229 (SIGUSR1's; a listener keeps it shut).
  for (const signal of ["SIGUSR1", "SIGUSR2"] as const) process.on(signal, () => log.info({ signal }, "ignored a signal (a warm tool signalling its parent?)"));
  const sweep = setInterval(() => {
    const now = Date.now();
    heartbeat(socketAt, now);
    for (const runtime of runtimes) runtime.sweep(now);
    if (!daemon.busy && now - daemon.lastActivity > config.current.idleTimeoutMs) stop("idle timeout", false);
  }, 1000);
  sweep.unref();
  node.warmUp(join(__dirname, "version.js"), 300);
  // The listener's watcher keeps the loop alive; the sweep only observes.
  log.info({ socket: paths.socket, version: WARM_VERSION, node: process.version }, "daemon started");
  systemd.ready(() => {
    const s = daemon.stats.summary();
    return `warm ${WARM_VERSION}: ${s.runs} runs warm, ${s.direct} direct, ${daemon.busy ? "busy" : "idle"}`;
  });
}

main();
