// How a warm Node process ends. After the tool's last 'exit' listener has
// run, Node would spend milliseconds tearing down V8, and the kernel ~2 ms
// more unmapping it, before the daemon could reap it. Instead the process
// reports what it learned and its status, closes the tool's fds (pipes see
// EOF, locks are released, as at death), gives the shim its status on the
// client link, says `closed` and _exits: the caller gets its status as soon
// as nothing of the tool is left to observe.
// A fatal exception takes Node's own path, so it is printed exactly as Node
// prints it; then the process ends as above, from Node's AtExit callbacks
// (a forked child cannot survive Node's own exit), so the shim hears the
// status even when the daemon is gone.
import { native } from "../native";
import { encodeFrame, type WireValue } from "./wire";

/** `client`: the client link, to which the status goes straight (protocol-spec, "Reporting to the shim"). */
export function installExit(link: number, client: number, preloaded: Set<string>, warmDist: string, ownFds: number[], esmLoaded: () => WireValue[] = () => []): void {
  let fatal = false;
  const cpuAtStart = process.cpuUsage();
  const faultsAtStart = process.resourceUsage().minorPageFault;
  process.on("uncaughtExceptionMonitor", () => {
    fatal = true;
  });
  afterExitEvent((code) => {
    const cpu = process.cpuUsage(cpuAtStart);
    // The run's CPU time tells the daemon whether this tool is better forked
    // or spawned; its page faults, whether a forked child's list of pages to
    // fault in ahead went stale (runtimes/touched-pages.ts).
    const faults = process.resourceUsage().minorPageFault - faultsAtStart;
    const toDaemon = Buffer.concat([learned(preloaded, warmDist, esmLoaded()), encodeFrame({ t: "exit", code, cpu_us: cpu.user + cpu.system, faults })]);
    const exitFrame = encodeFrame({ t: "exit", code });
    if (!fatal) native.exitNow(code, link, toDaemon, encodeFrame({ t: "closed" }), ownFds, client, exitFrame);
    // After a fatal exception, the process ends the same way once Node has printed it.
    native.exitAfterFatal(code, link, toDaemon, encodeFrame({ t: "closed" }), ownFds, client, exitFrame);
  });
}

/**
 * Runs `step` after every 'exit' listener, whichever path emitted the
 * event (process.exit() or an empty loop), by wrapping process.emit as
 * signal-exit does. The wrapper stays outermost whatever the tool assigns:
 * signal-exit 4 keeps the emit it found when it was loaded (in a warm
 * process, while preloading: Node's own) and puts it back on unload, which
 * would otherwise drop the wrapper, and a forked child that ends through
 * Node's own exit hangs (it joins threads only its template has). So
 * process.emit is an accessor, and an assigned function becomes what the
 * wrapper calls. A function assigned during the run may have kept this
 * wrapper as "the emit before it": when it calls back (the same event,
 * while it runs), the call goes to what was in place when it was
 * assigned, and assigning this wrapper back puts that back.
 */
function afterExitEvent(step: (code: number) => void): void {
  type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;
  const base = process.emit as Emit;
  let inner: Emit = base;
  const before = new Map<Emit, Emit>(); // each assigned function: what was in place when it was assigned
  const running: { event: string | symbol; fn: Emit }[] = [];
  const outermost = function (this: unknown, event: string | symbol, ...args: unknown[]): boolean {
    const top = running[running.length - 1];
    // A wrapper calling back the emit it kept (this one), or an event emitted from another's listener (process.exit() in a signal handler).
    const chained = top?.event === event;
    const fn = chained ? (before.get(top.fn) ?? base) : inner;
    running.push({ event, fn });
    let result: boolean;
    try {
      result = fn.call(this, event, ...args);
    } finally {
      running.pop();
    }
    if (event === "exit" && !chained) step((Number(process.exitCode ?? args[0] ?? 0) | 0) & 0xff);
    return result;
  };
  Object.defineProperty(process, "emit", {
    configurable: true,
    enumerable: true,
    get: () => outermost,
    set: (fn: Emit) => {
      if (fn === outermost) {
        inner = before.get(inner) ?? base;
        return;
      }
      if (!before.has(fn)) before.set(fn, inner);
      inner = fn;
    },
  });
}

/** What the tool loaded that was not preloaded, so the next warm process has it ready. */
export function learned(preloaded: Set<string>, warmDist: string, esm: WireValue[] = []): Buffer {
  const modules: WireValue[] = [...esm];
  const main = process.argv[1];
  for (const id of Object.keys(require.cache)) {
    if (!preloaded.has(id) && id !== main && !id.startsWith(warmDist)) modules.push(["cjs", id]);
  }
  return modules.length > 0 ? encodeFrame({ t: "loaded", modules }) : Buffer.alloc(0);
}
