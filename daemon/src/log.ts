// The daemon's JSON log (pino, asynchronous, so logging never blocks a run).
// A full disk or an unwritable state dir drops log lines, never a run.
import pino, { type Logger } from "pino";

export type { Logger };

export function createLogger(file: string, level: string): Logger {
  const destination = pino.destination({ dest: file, sync: false, mkdir: true });
  // sonic-boom reports write failures (ENOSPC, EACCES) as 'error' events;
  // without a listener they would crash the daemon.
  destination.on("error", () => {});
  return pino({ level, base: { pid: process.pid } }, destination);
}
