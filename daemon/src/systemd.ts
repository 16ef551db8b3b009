// Running as a systemd user service (warm service install): the listening
// socket systemd passes (LISTEN_FDS/LISTEN_PID, socket activation), and
// readiness, status and watchdog pings on NOTIFY_SOCKET (sd_notify, an
// AF_UNIX datagram socket, sent with the unix-dgram package). Neither
// variable set: the daemon listens itself, as when the shim starts it.
import type { Logger } from "./log";
import { native } from "./native";

/** The first fd systemd passes (SD_LISTEN_FDS_START). */
const FIRST_FD = 3;

interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, callback: (error?: Error) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  close(): void;
}

export interface Systemd {
  /** The listening socket systemd passed, or null: listen on our own path. */
  listenFd: number | null;
  /** READY=1 with a STATUS line; then STATUS= from status() and WATCHDOG=1 pings, when asked for. */
  ready(status: () => string): void;
  /** STOPPING=1. */
  stopping(): void;
}

function take(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  delete env[name]; // as sd_listen_fds(unset_environment=1): not for the daemon's children
  return value;
}

/** Reads (and removes) the variables systemd set for this process. */
export function fromSystemd(log: Logger, env: NodeJS.ProcessEnv = process.env): Systemd {
  const listenPid = take(env, "LISTEN_PID");
  const listenFds = take(env, "LISTEN_FDS");
  take(env, "LISTEN_FDNAMES");
  const notifyPath = take(env, "NOTIFY_SOCKET");
  const watchdogUsec = take(env, "WATCHDOG_USEC");
  const watchdogPid = take(env, "WATCHDOG_PID");
  let listenFd: number | null = null;
  if (listenPid !== undefined && Number(listenPid) === process.pid && Number(listenFds) >= 1) {
    listenFd = FIRST_FD;
    // Passed blocking and inheritable; the listener accepts until EAGAIN, and warm processes must not inherit it.
    native.setNonblocking(listenFd, true);
    native.setCloexec(listenFd, true);
    for (let fd = FIRST_FD + 1; fd < FIRST_FD + Number(listenFds); fd++) native.close(fd); // only one is warm's
    log.info({ fds: Number(listenFds) }, "listening on the socket systemd passed");
  }
  const notify = notifyPath ? notifier(notifyPath, log) : null;
  let timer: NodeJS.Timeout | null = null;
  return {
    listenFd,
    ready(status) {
      if (!notify) return;
      notify(`READY=1\nSTATUS=${status()}\nMAINPID=${process.pid}`);
      const usec = Number(watchdogUsec);
      const watchdog = usec > 0 && (watchdogPid === undefined || Number(watchdogPid) === process.pid);
      // A ping from a timer on the event loop: a loop that is stuck misses it, as it should.
      timer = setInterval(() => notify(watchdog ? `WATCHDOG=1\nSTATUS=${status()}` : `STATUS=${status()}`), watchdog ? Math.max(1, usec / 2000) : 5000);
      timer.unref();
    },
    stopping() {
      if (timer) clearInterval(timer);
      notify?.("STOPPING=1");
    },
  };
}

function notifier(path: string, log: Logger): ((state: string) => void) | null {
  if (!path.startsWith("/")) {
    // '@name' is Linux's abstract namespace, which unix-dgram cannot address (it copies the path as a C string).
    log.warn({ path }, "NOTIFY_SOCKET is not a path; not notifying systemd");
    return null;
  }
  let socket: DgramSocket;
  try {
    // Loaded only under systemd: a native module the shim-started daemon never needs.
    const dgram = require("unix-dgram") as { createSocket(type: "unix_dgram"): DgramSocket };
    socket = dgram.createSocket("unix_dgram");
  } catch (error) {
    log.warn({ err: (error as Error).message }, "cannot notify systemd");
    return null;
  }
  socket.on("error", (error) => log.warn({ err: error.message }, "notifying systemd failed"));
  return (state) => {
    const buf = Buffer.from(state);
    socket.send(buf, 0, buf.length, path, (error) => {
      if (error) log.warn({ err: error.message, state }, "notifying systemd failed");
    });
  };
}
