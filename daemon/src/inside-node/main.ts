// The entry of a warm Node process (every file in inside-node/ runs inside
// it, in the tool's own process; the daemon's side is runtimes/node/).
// The daemon starts `node [flags] <script>` with this
// file loaded through NODE_OPTIONS=--require and its runtime link on fd 100
// (link-fd.ts).
// Here, inside Node's preload phase, it preloads the tool's modules, says
// `ready`, and blocks until one `run` arrives; it then takes on the
// caller's fds, env, cwd, umask and argv, tells the shim it started, and
// returns, and Node's own bootstrap runs the entry exactly as `node script`
// would: same main-module handling, same stack traces. It serves exactly one
// invocation, and reports its end to the shim itself (see exit.ts).
// Or, told to `fork`, it is a template: after `ready` it forks a child per
// run (template-loop.ts), and each child goes on from here as a process
// started for one run would.
import Module = require("node:module");
import { readdirSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { native } from "../native";
import { installExit } from "./exit";
import { readFrame, send } from "./link";
import type { ModuleRef, PreloadReport } from "./preload";
import { preloadStdio } from "./preload-stdio";
import { showReady, showRun } from "./command-line";
import { encodeFrame, type WireValue } from "./wire";
import { noteEsmReads } from "./esm-reads";
import { tidyModuleCache } from "./module-cache";
import { refreshSlices } from "./argv-slices";
import { exitUnused } from "./unused-exit";
import { forwardingTraps } from "./forwarding";
import { NODE_LINK_FD } from "./link-fd";

const CTL = NODE_LINK_FD;
const SIGKILL = 9; // on Linux (not worth loading node:os for)
const WARM_DIST = dirname(__dirname);

/** Its value, made once, on the first call. */
function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

// warm's modules that only some processes use: a learning run (a process
// started for a caller who waits, with nothing to preload) needs none of the
// preloading traps, a template's fork loop or a child's fresh state, and
// compiling them all cost that caller ~10 ms of CPU. Each process loads
// those it needs before any module of the tool's (main), so no require
// hook a tool installs (a transpiler's, a coverage tool's) ever sees them.
const lazy = {
  preload: once(() => require("./preload") as typeof import("./preload")),
  rehearse: once(() => require("./rehearse") as typeof import("./rehearse")),
  emptyHeap: once(() => require("./empty-heap") as typeof import("./empty-heap")),
  freshState: once(() => require("./fresh-state") as typeof import("./fresh-state")),
  templateLoop: once(() => require("./template-loop") as typeof import("./template-loop")),
  devTty: once(() => require("./dev-tty") as typeof import("./dev-tty")),
};

/** What preloading nothing shows: no module ran, so no trap could fire; the files held loaded are warm's own. */
function nothingPreloaded(): PreloadReport {
  const files = Object.keys(require.cache).filter((id) => id.startsWith("/"));
  return { dropped: [], envRead: [], envEnumerated: false, argvQueries: [], cwdRead: false, filesRead: files, readBy: [], clean: true };
}

type Message = { [key: string]: WireValue };

/** Until the tool's main module exists, modules loaded early see a stand-in for require.main that forwards to it. */
function mainModuleStandIn(): () => void {
  const desc = Object.getOwnPropertyDescriptor(process, "mainModule");
  const standIn = new Proxy({}, forwardingTraps(() => (process.mainModule as object | undefined) ?? {}));
  Object.defineProperty(process, "mainModule", { configurable: true, enumerable: true, get: () => standIn });
  return () => {
    if (desc) Object.defineProperty(process, "mainModule", desc);
    else delete (process as { mainModule?: unknown }).mainModule;
  };
}

/** A module at the entry's path that preloading requires from, as Module.createRequire makes one (its paths are the entry's). */
function loaderParent(script: string): NodeJS.Module {
  const m = new Module(script) as NodeJS.Module;
  m.filename = script;
  m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(script));
  return m;
}

/** Takes on the caller's invocation; when this returns, Node runs the entry. fds: the caller's 0-2, then the client link. */
function takeRequest(run: Message, fds: number[], preloaded: Set<string>, ownFds: number[], mask: string, forked: boolean, mainIsCjs: boolean, esmLoaded?: () => WireValue[]): void {
  // The shim's request, as it sent it: env and umask are set from it here.
  // It and the chdir go first: if either throws (a malformed request, a
  // directory removed since the daemon looked), the error goes to this
  // process's own stderr, not the caller's, and the shim runs the command.
  // Caught here: an exception escaping --require would end the process
  // with the 'exit' event, running preloaded modules' listeners for a run
  // that never happened here (the direct run runs them).
  let caller;
  try {
    caller = native.takeRequest(run.request as Buffer);
    native.chdir(caller.cwd); // also clears Node's cached process.cwd()
  } catch (error) {
    writeSync(2, `warm: this process cannot take the run: ${(error as Error).message}\n`);
    exitUnused(70);
  }
  for (let fd = 0; fd < 3; fd++) {
    native.dup2(fds[fd], fd);
    native.close(fds[fd]);
  }
  // Same array (modules may hold it), the caller's arguments in place of the pool's.
  process.argv.splice(2, Infinity, ...caller.argv.slice(run.args_from as number));
  refreshSlices(process.argv);
  showRun();
  if (forked) lazy.freshState().startClocks();
  if (forked && run.want_pages === true) native.reportTouchedAtExit(); // the first child of its template
  installExit(CTL, fds[3], preloaded, WARM_DIST, ownFds, esmLoaded);
  // The caller's fds are terminals exactly where the pool's are (the tty mask is in the key).
  if (mask.includes("t")) lazy.devTty().watchDevTty(CTL);
  tidyModuleCache(WARM_DIST, mainIsCjs);
}

function main(): void {
  // Only the main thread of a process the daemon started has the link;
  // the tool's worker threads also run NODE_OPTIONS'
  // --require, and must do nothing here.
  if (process.env.WARM_RUNTIME_LINK !== String(CTL) || !native.isMainThread()) return;
  native.ownProcessGroup(); // before the daemon can send a run: the shim signals -pid
  native.setCloexec(CTL, true);
  // While idle or preloading it ends with the daemon (a daemon gone before
  // this call leaves the link at EOF, and the process exits without serving).
  native.setParentDeathSignal(SIGKILL);
  const first = readFrame(CTL);
  if (!first || first.message.t !== "preload") exitUnused(first ? 70 : 0);
  const p = first.message;
  const script = process.argv[1];
  const mask = String(p.stdio ?? "---");
  const template = p.fork === true;
  const modules = (p.modules as WireValue[]).map((m) => m as unknown as ModuleRef);
  // The parts of warm this process uses, before any module of the tool's (see lazy).
  if (modules.length > 0) lazy.preload();
  if (p.caller_waits !== true) {
    lazy.rehearse();
    lazy.emptyHeap();
  }
  if (template) {
    lazy.freshState();
    lazy.templateLoop();
  }
  if (mask.includes("t")) lazy.devTty();
  const stdio = preloadStdio(mask);
  // A template forks: no thread may be started from here on (see fork.c).
  if (template) native.forkBaseline();
  const restoreMain = p.main_is_cjs === true ? mainModuleStandIn() : () => {};
  const excluded = (p.exclude as string[] | undefined) ?? [];
  const report = modules.length === 0 ? nothingPreloaded() : lazy.preload().preloadModules(modules, (id) => id === script || excluded.some((x) => id.includes(x)), stdio.outputSince, loaderParent(script), mask);
  const preloaded = new Set(Object.keys(require.cache));
  // What the ESM loader left in flight (a file still closing) completes here, not in a child that lacks the thread for it.
  if (template) lazy.templateLoop().drainRequests();
  // Both only pay off when the process is ready ahead of its caller: with a
  // caller waiting (a tool's first run), they would be on its time.
  if (report.clean && p.caller_waits !== true) {
    lazy.rehearse().rehearse(preloaded, WARM_DIST);
    lazy.emptyHeap().emptyHeap();
  }
  // Last before `ready`, after every flag change of warm's own (fresh-state.ts).
  if (template && typeof p.plain_flags === "string" && typeof p.plain_tag === "number" && !lazy.freshState().stampCachesPlain(p.plain_flags, p.plain_tag)) {
    writeSync(2, "warm: this template's code caches carry its own flags: V8 rejects them in a direct run, and the other way round\n");
  }
  send(CTL, {
    t: "ready",
    pid: process.pid,
    clean: report.clean,
    dropped: report.dropped,
    env_read: report.envRead,
    env_enumerated: report.envEnumerated,
    argv_queries: report.argvQueries as WireValue[],
    cwd_read: report.cwdRead,
    files_read: report.filesRead,
    files_read_by: report.readBy as WireValue[],
  });
  if (!report.clean) exitUnused(0);
  showReady();
  let esmLoaded: (() => WireValue[]) | undefined;
  let pages: number[] = [];
  if (template) {
    const fresh = lazy.freshState();
    fresh.prepareClocks();
    pages = lazy.templateLoop().serveForks(CTL); // returns only in a forked child
    fresh.afterFork();
  }
  // The ES modules this run loads, for the next process to preload (a child forked from a template always learns them).
  if (template || p.learn_esm === true) esmLoaded = noteEsmReads();
  // fds open now belong to Node and libuv, not to the tool: they stay open
  // to the end (listed before the request, off the path of the run).
  const ownFds = readdirSync("/proc/self/fd").map(Number).filter((fd) => fd > 2 && !stdio.fds.includes(fd));

  // The template's pages a run writes, copied now rather than on the caller's time (see pages.c).
  if (pages.length > 0) native.prefault(pages, CTL);
  const request = readFrame(CTL);
  if (!request) exitUnused(0); // the daemon let this process go
  // A run it took outlives the daemon: it tells the shim its status itself.
  // Killed by the daemon's death before this line, it has not said
  // `started`, and the shim (seeing the link close) runs the command itself.
  native.setParentDeathSignal(0);
  if (request.message.t !== "run" || request.fds.length !== 4) exitUnused(70);
  restoreMain();
  takeRequest(request.message, request.fds, preloaded, ownFds, mask, template, p.main_is_cjs === true, esmLoaded);
  if (modules.length > 0) lazy.preload().restartLoadTimers();
  // Before any of the tool's code runs, and in this order: a process that
  // dies before `taken` ran nothing (the daemon answers `direct`), and the
  // shim never hears `started` from one that did not say `taken`.
  send(CTL, { t: "taken" });
  try {
    native.sendAll(request.fds[3], encodeFrame({ t: "started", pid: process.pid, pgid: process.pid, reset_stdio: request.message.reset_stdio === true }));
  } catch {
    // The shim gave up waiting (it shuts its reading side first, so this
    // write fails) and ran the command itself: the tool must not run here.
    // No exit listener may run either: fds 0-2 are the caller's now.
    process.kill(process.pid, "SIGKILL");
  }
  // Only once 0-2 are the caller's: closing the preload pty's master hangs
  // up its slave, and that must not race with fds still pointing at it.
  stdio.close();
}

main();
