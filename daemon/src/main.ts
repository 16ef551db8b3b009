// The warm daemon: started by the shim when none answers. One per user and
// runtime dir, guaranteed by a lock held for its whole life; it recovers a
// socket left by a dead daemon, and exits after its idle timeout.
import { chmodSync, unlinkSync } from "node:fs";
import { ChangeWatch } from "./change-watch";
import { ConfigSource } from "./config";
import { Daemon } from "./daemon";
import { createLogger } from "./log";
import { native } from "./native";
import { ensurePrivateDir, resolvePaths } from "./paths";
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

function main(): void {
  const paths = resolvePaths();
  const log = createLogger(paths.log, process.env.WARM_LOG_LEVEL ?? "info");
  const fatal = (message: string, extra: object = {}) => {
    log.fatal(extra, message);
    log.flush();
    process.stderr.write(`warm daemon: ${message}\n`);
    process.exit(1);
  };
  try {
    ensurePrivateDir(paths.runtimeDir);
  } catch (error) {
    return fatal((error as Error).message);
  }
  const systemd = fromSystemd(log);
  const lock = native.lockFile(paths.daemonLock);
  if (lock < 0) {
    // Another daemon holds the lock: it serves this socket.
    log.info("another daemon holds the lock; exiting");
    log.flush();
    process.exit(0);
  }
  process.chdir("/"); // never pin the directory the first caller happened to be in

  // Under socket activation the socket is systemd's: never unlinked by us.
  const ownSocket = systemd.listenFd === null;
  const removeSocket = () => {
    try {
      if (ownSocket) unlinkSync(paths.socket);
    } catch {
      // already gone
    }
  };
  let listenFd: number;
  if (systemd.listenFd !== null) listenFd = systemd.listenFd;
  else {
    removeSocket(); // left by a dead daemon: we hold the lock, so it is stale
    try {
      listenFd = native.listenUnix(paths.socket, 511);
      chmodSync(paths.socket, 0o600);
    } catch (error) {
      return fatal(`cannot listen on ${paths.socket}: ${(error as Error).message}`);
    }
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
      void daemon.idle().then(() => {
        store.flush();
        log.info("daemon stopped");
        log.flush();
        process.exit(0);
      });
    }
    if (now) daemon.endRunning();
  };
  const daemon = new Daemon(runtimes, changes, limits, config, log, stop, WARM_VERSION);
  const uid = process.getuid ? process.getuid() : 0;
  const listener = new Listener(listenFd, uid, daemon, (other) => log.warn({ uid: other }, "refused a connection from another user"));

  // A bug in one request's handling must not take every running tool's
  // daemon down with it: log it loudly and keep serving.
  process.on("uncaughtException", (error) => log.error({ err: error.stack ?? String(error) }, "uncaught exception"));
  process.on("unhandledRejection", (error) => log.error({ err: (error as Error)?.stack ?? String(error) }, "unhandled rejection"));
  // The first SIGTERM or SIGINT lets running tools finish; a second ends them.
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => stop(signal, daemon.stopping));
  process.on("SIGHUP", () => {}); // the shim's terminal closing is not our business
  const sweep = setInterval(() => {
    const now = Date.now();
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
