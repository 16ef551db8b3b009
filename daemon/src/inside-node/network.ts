// A module that opens a network socket while loading (a server that
// listens, a client that connects or sends: a CLI module that runs its
// command at load, as many a bin's `require("../lib/cli")` does) is doing a
// run's work. Preloaded, the socket would be opened by a process that may
// never serve a run, with the arguments of the run that made the pool, and
// kept open by that idle process (and by every child a template forks): a
// port it holds makes the user's own runs fail with EADDRINUSE, and its
// requests are answered while no run is going on. Such a call fails while
// preloading (nothing is opened), the module is dropped, and it does that
// work in the run, as directly. Runs inside the warm process while it
// preloads; afterwards the originals are back.
import type { Phase } from "./stand-ins";
import { esModuleOnStack } from "./env-view";

// Every way Node code opens a socket goes through one of these (http, https,
// http2, tls, fetch's undici and net.connect all reach Socket.connect;
// http.Server is a net.Server).
const OPENS: [module: "net" | "dgram", cls: string, method: string][] = [
  ["net", "Server", "listen"],
  ["net", "Socket", "connect"],
  ["dgram", "Socket", "bind"],
  ["dgram", "Socket", "connect"],
  ["dgram", "Socket", "send"],
];

/** Wraps the socket-opening methods; returns a function that puts the originals back. */
export function trapNetwork(phase: Phase): () => void {
  const restores: (() => void)[] = [];
  for (const [name, cls, method] of OPENS) {
    const proto = (require(`node:${name}`) as Record<string, { prototype: Record<string, unknown> }>)[cls].prototype;
    const original = proto[method] as (...args: unknown[]) => unknown;
    const call = `${name}.${cls}.${method}`;
    proto[method] = function (this: unknown, ...args: unknown[]) {
      if (phase.preloading) {
        phase.note(`opened a network socket while loading (${call})`, esModuleOnStack());
        throw new Error(`warm does not preload a module that opens a network socket while loading (${call})`);
      }
      return original.apply(this, args);
    };
    restores.push(() => {
      proto[method] = original;
    });
  }
  return () => {
    for (const restore of restores.reverse()) restore();
  };
}
