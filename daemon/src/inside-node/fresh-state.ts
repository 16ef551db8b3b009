// What a forked child must not keep of its template (runs in the child).
// Right after the fork: its own pid and parent, Node's flags as the tool
// gave them, a Math.random and crypto caches of its own. When its run is
// taken: the clocks a fresh process starts at zero (process.uptime(),
// performance.now() and performance.timeOrigin).
// What needs nothing here: the libuv loop (uv_loop_fork in the addon, with
// its epoll and inotify fds), OpenSSL's generator (it reseeds when it sees
// another pid), process.hrtime (an absolute clock), signal dispositions and
// the signal mask (the template's are a fresh node's: it never changes them),
// timers (the template's loop never ran: the same as in a pre-started process).
import { readlinkSync, readSync, openSync, closeSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { native } from "../native";

/** The flag the template runs with and the tool did not ask for. */
export const TEMPLATE_FLAG = "--single-threaded";
/**
 * And the young generation's floor (a semi-space, MiB). A template idles
 * between forks, so the collections it runs after each fork see a low
 * allocation rate, and V8 shrank its young generation to its default
 * floor (1 MiB) and uncommitted the rest: from then on each child's run of
 * the 300-module CLI scavenged into pages its template no longer had,
 * ~150-270 page faults a run that no learned page list can cover (a
 * pre-started process, which runs no collection while it waits, keeps
 * what preloading grew: 8 MiB). With this floor: ~30-50.
 */
export const YOUNG_FLAG = "--min-semi-space-size=4";
/**
 * While a template preloads, every function is compiled as its module
 * loads, not on its first call (--no-lazy), and kept (--no-flush-bytecode:
 * the collections of an idle template would drop what no call used): a
 * child's run then finds compiled the functions of preloaded modules it
 * calls, where each child compiled them again. Measured: prettier
 * formatting a file 264 -> 201 ms, eslint on a file 228 -> 178 ms, for
 * ~8 MiB more in the template (bench/results.md, "Compiling ahead in
 * Node templates"). A child compiles lazily again (see
 * afterFork), as a direct run does, what its run loads. Neither changes
 * what code does, only when V8 compiles it.
 */
export const EAGER_FLAGS = ["--no-lazy", "--no-flush-bytecode"];
/** All of them, in the order the template's command line has them (before the tool's own flags, which win over them). */
export const TEMPLATE_FLAGS = [TEMPLATE_FLAG, YOUNG_FLAG, ...EAGER_FLAGS];

export function afterFork(): void {
  const define = (name: string, value: unknown, writable: boolean) =>
    Object.defineProperty(process, name, { value, writable, enumerable: true, configurable: true });
  define("pid", Number(readlinkSync("/proc/self")), false);
  define("ppid", native.getppid(), true);
  for (const flag of TEMPLATE_FLAGS) {
    const at = process.execArgv.indexOf(flag); // the first: the template's (a tool's own same flag comes later)
    if (at >= 0) process.execArgv.splice(at, 1);
  }
  // Lazy compilation again, for what the run loads (unless the tool asked otherwise itself).
  const lazyAgain = EAGER_FLAGS.filter((flag) => !process.execArgv.includes(flag)).map((flag) => flag.replace(/^--no-/, "--"));
  if (lazyAgain.length > 0) setFlagsFromString(lazyAgain.join(" "));
  reseedMathRandom();
  if (stampedPlain) native.restampFlagHash(); // those flag changes put the template's own hash back
  renewCryptoCaches();
}

function randomSeed(): number {
  const buf = Buffer.alloc(4);
  const fd = openSync("/dev/urandom", "r");
  try {
    readSync(fd, buf, 0, 4, null);
  } finally {
    closeSync(fd);
  }
  return (buf.readUInt32BE(0) >>> 1) || 1;
}

/**
 * V8 seeds each context's Math.random once, from an isolate generator the
 * children all copy: every child would draw the same numbers. A new
 * context's Math.random, seeded from this child's own entropy, takes its
 * place (a native builtin like the original). It is drawn once so that it
 * is seeded before the flag is put back.
 */
function reseedMathRandom(): void {
  setFlagsFromString(`--random-seed=${randomSeed()}`);
  try {
    const random = runInNewContext("Math.random") as () => number;
    random();
    Object.defineProperty(Math, "random", { value: random, writable: true, enumerable: false, configurable: true });
  } finally {
    setFlagsFromString("--random-seed=0");
  }
}

/**
 * crypto.randomUUID() and randomInt() serve from buffers Node fills in
 * batches: a template that used them would hand every child the same
 * values. Going once around each buffer refills it exactly once (OpenSSL
 * reseeds in the child), leaving it as full as it was.
 */
function renewCryptoCaches(): void {
  if (!(process as unknown as { moduleLoadList: string[] }).moduleLoadList.includes("NativeModule internal/crypto/random")) return;
  const crypto = require("node:crypto") as typeof import("node:crypto");
  for (let i = 0; i < 128; i++) crypto.randomUUID(); // 128 ids per batch
  for (let i = 0; i < 1024; i++) crypto.randomInt(1); // 6 bytes each out of 6 KiB
}

/**
 * In the template, before it forks: Node builds `performance` on first use
 * (ten modules, ~1 ms here), and startClocks needs it in every child, where
 * building it would take that out of the caller's run (profiled: most of
 * what a forked child of the 300-module CLI spent more than a pre-started
 * process). Built once here, every child shares it.
 */
export function prepareClocks(): void {
  void globalThis.performance;
}

/**
 * Code caches stamped as a plain node stamps them (V8 rejects a cache made
 * under other flags): `plainFlags` and `plainTag` are what the daemon
 * learned of a plain node. Last before `ready`: any flag change (such as
 * the --expose-gc that emptyHeap sets for a moment) puts the template's
 * own hash back. False if it could not be done; then nothing changed.
 */
export function stampCachesPlain(plainFlags: string, plainTag: number): boolean {
  stampedPlain = native.adoptFlagHash(plainFlags, TEMPLATE_FLAGS.join(" "), plainTag);
  return stampedPlain;
}

let stampedPlain = false;

/** At the start of the run: the clocks of a process that starts now. */
export function startClocks(): void {
  native.resetStartTime();
  const start = process.hrtime.bigint();
  const origin = Date.now();
  const perf = globalThis.performance;
  Object.defineProperty(perf, "now", {
    value: function now() {
      return Number(process.hrtime.bigint() - start) / 1e6;
    },
    writable: true,
    enumerable: false,
    configurable: true,
  });
  Object.defineProperty(perf, "timeOrigin", { get: () => origin, enumerable: false, configurable: true });
}
