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
import { native } from "../../native";
import { encodeFrame, type WireValue } from "./wire";

/** `client`: the client link, to which the status goes straight (protocol-spec, "Reporting to the shim"). */
export function installExit(link: number, client: number, preloaded: Set<string>, warmDist: string, ownFds: number[], esmLoaded: () => WireValue[] = () => []): void {
  let fatal = false;
  const cpuAtStart = process.cpuUsage();
  process.on("uncaughtExceptionMonitor", () => {
    fatal = true;
  });
  const emit = process.emit;
  // Wrapping emit (as signal-exit does) runs our step after every 'exit'
  // listener, whichever path emitted it: process.exit() or an empty loop.
  process.emit = function (this: NodeJS.Process, event: string | symbol, ...args: unknown[]) {
    const result = (emit as (...a: unknown[]) => boolean).call(this, event, ...args);
    // After a fatal exception, the process ends the same way once Node has printed it.
    if (event === "exit") {
      const code = (Number(process.exitCode ?? args[0] ?? 0) | 0) & 0xff;
      const cpu = process.cpuUsage(cpuAtStart);
      // The run's CPU time tells the daemon whether this tool is better forked or spawned.
      const toDaemon = Buffer.concat([learned(preloaded, warmDist, esmLoaded()), encodeFrame({ t: "exit", code, cpu_us: cpu.user + cpu.system })]);
      const exitFrame = encodeFrame({ t: "exit", code });
      if (!fatal) native.exitNow(code, link, toDaemon, encodeFrame({ t: "closed" }), ownFds, client, exitFrame);
      native.exitAfterFatal(code, link, toDaemon, encodeFrame({ t: "closed" }), ownFds, client, exitFrame);
    }
    return result;
  } as typeof process.emit;
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
