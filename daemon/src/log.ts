// The daemon's JSON log (pino, asynchronous, so logging never blocks a run).
// A full disk or an unwritable state dir drops log lines, never a run.
//
// The destination is a SonicBoom made here rather than pino.destination():
// that one registers a synchronous flush for process exit, and SonicBoom's
// flushSync retries a failing write (ENOSPC) forever, so a daemon on a full
// disk could never exit. Lines still buffered when the daemon exits are lost.
import pino, { type Logger } from "pino";
import SonicBoom from "sonic-boom";

export type { Logger };

export function createLogger(file: string, level: string): Logger {
  const destination = new SonicBoom({ dest: file, sync: false, mkdir: true });
  // Write failures (ENOSPC, EACCES) arrive as 'error' events; unheard they would crash the daemon.
  destination.on("error", () => {});
  return pino({ level, base: { pid: process.pid } }, destination);
}
