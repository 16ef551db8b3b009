// Serves requests: `run` goes to a warm process of the right pool (or back
// to the shim as `direct`), `status` reports, `stop` ends everything (the
// tools running finish first, unless it says `now`).
import { statSync } from "node:fs";
import type { ChangeWatch } from "./change-watch";
import type { ConfigSource } from "./config";
import { fileProblems, type Logger } from "./log";
import { native } from "./native";
import { PROTOCOL_VERSION, ProtocolError } from "./protocol/codec";
import { asString, envLookup, messageType, parseRun, type RunRequest } from "./protocol/messages";
import type { Limits } from "./limits";
import type { PreloadStore } from "./preload-store";
import type { WarmProcess } from "./pool";
import { identify, type Program } from "./runtimes/program";
import type { Prepared, WarmRuntime } from "./runtimes/runtime";
import { EXEC_TAG, Stats } from "./stats";
import { differences, type StatusData, statusText } from "./status-text";
import type { Connection, ConnectionHandler, Request } from "./transport";

export class Daemon implements ConnectionHandler {
  readonly stats = new Stats();
  private active = new Map<Connection, WarmProcess | null>();
  /** Runs that `stop` with `now` ended: their callers are told so. */
  private ended = new Set<Connection>();
  private idleWaiters: (() => void)[] = [];
  /** Set once the daemon stops: runs still arriving on open links go direct. */
  stopping = false;
  lastActivity = Date.now();

  constructor(
    private readonly runtimes: WarmRuntime[],
    private readonly changes: ChangeWatch,
    private readonly limits: Limits,
    private readonly config: ConfigSource,
    private readonly log: Logger,
    /** Stops the daemon (see `stop` in protocol-spec): a shim's request, a signal, the idle timeout, another version. */
    private readonly stop: (why: string, now: boolean) => void,
    private readonly version: string,
    private readonly store: PreloadStore,
  ) {}

  get busy(): boolean {
    return this.active.size > 0;
  }

  /** Resolves once no run is in flight (at once if none is). */
  idle(): Promise<void> {
    return this.active.size === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private done(conn: Connection): void {
    this.active.delete(conn);
    this.ended.delete(conn);
    if (this.active.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** `stop` with `now`: every running tool is killed, and its caller told why. */
  endRunning(): void {
    for (const [conn, wp] of this.active) {
      if (!wp) continue;
      this.ended.add(conn);
      wp.kill("SIGKILL");
    }
  }

  request(conn: Connection, req: Request): void {
    this.lastActivity = Date.now();
    try {
      const type = messageType(req.message);
      if (req.message.v !== PROTOCOL_VERSION) {
        throw new ProtocolError("version", `daemon speaks protocol v${PROTOCOL_VERSION}, got v${String(req.message.v)}`);
      }
      if (type !== "run" && req.fds.length > 0) throw new ProtocolError("bad-fds", `a ${type} request carries no fds`);
      if (type === "run") return this.run(conn, req);
      if (type === "status") return conn.finish({ t: "status", ...this.status() });
      if (type === "stop") {
        // Socket and lock go first: a run right after `warm stop` starts a new daemon.
        this.stop("stop request", req.message.now === true);
        return conn.finish({ t: "ok" });
      }
      throw new ProtocolError("bad-message", `unknown request type "${type}"`);
    } catch (error) {
      for (const fd of req.fds) native.close(fd);
      this.log.warn({ err: (error as Error).message, code: (error as ProtocolError).code }, "bad request");
      conn.fail(error);
    }
  }

  private run(conn: Connection, req: Request): void {
    if (req.fds.length !== 3) throw new ProtocolError("bad-fds", `a run request carries exactly 3 fds, got ${req.fds.length}`);
    // The version first: a shim of another version may send other fields.
    const warm = asString(req.message.warm, "warm");
    if (warm !== this.version) {
      // Answered first, then the daemon steps aside for one of the shim's version.
      setImmediate(() => this.stop("a shim of another warm version", false));
      throw new ProtocolError("version", `daemon is warm ${this.version}, shim is warm ${warm}`);
    }
    if (this.stopping) {
      for (const fd of req.fds) native.close(fd);
      this.stats.direct++;
      return conn.finish({ t: "direct", why: "the daemon is stopping" });
    }
    const request = parseRun(req.message, req.payload);
    const session = envLookup(request.env, EXEC_TAG);
    const differs = credentialsDiffer(request);
    if (differs) {
      for (const fd of req.fds) native.close(fd);
      return this.direct(conn, differs, session);
    }
    this.config.refresh();
    this.changes.drain(); // a file changed before this request must not be run stale
    const received = process.hrtime.bigint();
    const prepared = this.prepare(request, req.fds);
    if ("direct" in prepared) {
      for (const fd of req.fds) native.close(fd);
      return this.direct(conn, prepared.direct, session);
    }
    this.active.set(conn, null);
    void this.handOff(conn, req.fds, prepared, received, session, waitBudgetMs(request.env), request.argv[0].toString("utf8"));
  }

  private prepare(request: RunRequest, fds: number[]): ({ runtime: WarmRuntime } & Prepared) | { direct: string } {
    const cwd = request.cwd.toString("utf8");
    try {
      if (!statSync(request.cwd).isDirectory()) return { direct: "working directory is not a directory" };
    } catch {
      return { direct: "working directory is gone" };
    }
    let program: Program | { direct: string } | null = null;
    for (const r of this.runtimes) program ??= r.claim?.(request, cwd) ?? null;
    program ??= identify(request, cwd);
    if ("direct" in program) return program;
    const runtime = this.runtimes.find((r) => r.kind === program.kind);
    if (!runtime) return { direct: `no ${program.kind} runtime` };
    const prepared = runtime.prepare(program, request, fds);
    return "direct" in prepared ? prepared : { runtime, ...prepared };
  }

  private async handOff(conn: Connection, fds: number[], prepared: { runtime: WarmRuntime } & Prepared, received: bigint, session: string | undefined, waitMs: number, argv0: string): Promise<void> {
    const { pool, toolId, runtime } = prepared;
    let wp: WarmProcess | string = "no warm process could be started";
    try {
      wp = await pool.acquire(waitMs);
    } catch (error) {
      this.log.error({ err: (error as Error).message }, "acquire failed");
    }
    // The replacement starts once this run is answered (or 50 ms in, for long
    // runs): a node start-up is ~40 ms of CPU and would slow this very run.
    let refilled = false;
    const refill = () => {
      if (!refilled) pool.refill();
      refilled = true;
    };
    // A slot that shares its process (a fork-mode coprocess's) costs nothing:
    // at once, since the next caller may come before the daemon hears this run end.
    const shares = typeof wp !== "string" && wp.shares === true;
    const early = prepared.refillDuringRun === false ? undefined : setTimeout(refill, shares ? 0 : 50);
    early?.unref();
    if (conn.closed || typeof wp === "string") {
      clearTimeout(early);
      setImmediate(refill);
      for (const fd of fds) native.close(fd);
      this.done(conn);
      if (typeof wp !== "string") wp.release();
      else this.runsDirectly(runtime, toolId, conn.peerPid);
      return this.direct(conn, typeof wp === "string" ? wp : "the caller went away", session);
    }
    // Every warm process gets the client link (this connection) as a 4th fd
    // and tells the shim `started` and `exit` itself: its run outlives the daemon.
    let taken: Promise<boolean>;
    runtime.running(toolId, 1); // from before it may start: a file its run writes is seen as the tool's doing
    try {
      taken = wp.run(prepared.message, [...fds, conn.fd]);
    } catch (error) {
      taken = Promise.resolve(false);
      this.log.warn({ err: (error as Error).message }, "hand-off failed");
    }
    // The warm process holds the caller's fds now; the daemon must not keep them (a pipe would never see EOF).
    for (const fd of fds) native.close(fd);
    this.active.set(conn, wp); // a shim that goes away from here on takes its tool with it
    if (!(await taken)) {
      // It died before taking the run (killed, crashed): nothing ran, and
      // the shim heard nothing from it, so the shim runs the command itself.
      runtime.running(toolId, -1);
      this.done(conn);
      wp.kill();
      clearTimeout(early);
      setImmediate(refill);
      return this.direct(conn, "the warm process died before taking the run", session);
    }
    this.limits.running++;
    this.stats.handedOff(Number(process.hrtime.bigint() - received) / 1e3, session, wp.startupUs ?? 0);
    const exit = await wp.exited;
    // What the run wrote before its exit is queued by now: seen while it still counts as running.
    this.changes.drain();
    runtime.running(toolId, -1);
    this.limits.running--;
    const stopped = this.ended.has(conn);
    this.done(conn);
    this.lastActivity = Date.now();
    this.stats.finished(Number(process.hrtime.bigint() - received) / 1e3);
    runtime.noteRun(toolId);
    // Unless the process (or a coprocess, for its child) told the shim itself: it died by a signal, or its status is lost.
    if (exit.told) conn.finish();
    else if (stopped) conn.finish({ t: "error", code: "stopped", why: `the daemon was stopped (warm stop --now) while running ${argv0}` });
    else if (exit.lost) conn.finish({ t: "error", code: "internal", why: exit.lost });
    else if (exit.signal) conn.finish({ t: "exit", signal: exit.signal });
    else conn.finish({ t: "exit", code: exit.code ?? 255 });
    clearTimeout(early);
    setImmediate(refill);
  }

  /** The shim went away mid-run (SIGKILL, the one signal it cannot forward): the tool goes as it would have directly. */
  gone(conn: Connection): void {
    const wp = this.active.get(conn);
    if (wp) wp.callerGone();
  }

  status(): { text: string; json: string } {
    this.config.refresh(); // a config edited since the last run: its errors and settings now
    const pools = this.runtimes.flatMap((r) => [...r.pools.values()].filter((p) => !p.closed).map((p) => ({ runtime: r.kind, pool: p }))).map(({ runtime, pool: p }) => ({
      runtime,
      tool: p.label,
      facets: p.facets,
      script: p.script,
      key: p.key,
      ready: p.readyCount,
      starting: p.startingCount,
      hits: p.hits,
      misses: p.misses,
      startMs: p.startMs ?? null,
      broken: p.broken,
      limited: p.limited,
      mode: p.describe(),
      pids: p.pids(),
    }));
    const data: StatusData & object = {
      version: this.version,
      pid: process.pid,
      uptimeSeconds: Math.round(process.uptime()),
      configError: this.config.error,
      configWarnings: this.config.warnings,
      fileProblems: fileProblems(),
      running: this.active.size,
      unsavedLearning: this.store.unsaved,
      ...this.stats.summary(),
      pools,
    };
    const differs = differences(pools);
    return { text: statusText(data), json: JSON.stringify({ ...data, pools: pools.map((p, i) => ({ ...p, differs: differs[i] })) }) };
  }

  /** Tells the shim to run the command itself, and counts why. */
  /**
   * The caller runs the tool itself (in its own process, the shim's pid
   * after exec): its run counts as the tool's until that process ends, as a
   * warm run's does, so a file it rewrites is seen as the tool's doing.
   */
  private runsDirectly(runtime: WarmRuntime, toolId: string, pid: number): void {
    let fd: number;
    try {
      fd = native.pidfdOpen(pid);
    } catch {
      return; // gone already, or no pidfd: no evidence either way
    }
    runtime.running(toolId, 1);
    const ended = native.watch(fd, () => {
      ended.close();
      native.close(fd);
      this.changes.drain(); // what it wrote before it ended, while it still counts
      runtime.running(toolId, -1);
    });
    ended.start(1);
  }

  private direct(conn: Connection, why: string, session: string | undefined): void {
    this.stats.ranDirect(why, session);
    conn.finish({ t: "direct", why });
  }
}

/**
 * How long a caller may wait for a warm process still starting: the shim
 * runs the command itself once WARM_TIMEOUT_MS (default 1500, as in
 * client-shim/deadline.c) has passed, so the daemon answers `direct` a
 * little before that and keeps the process for the next caller.
 */
function waitBudgetMs(env: Buffer[]): number {
  const v = envLookup(env, "WARM_TIMEOUT_MS");
  const n = v !== undefined && /^[0-9]+$/.test(v) ? Number(v) : NaN;
  const limit = n > 0 && n <= 24 * 3600 * 1000 ? n : 1500;
  return limit > 600 ? limit - 300 : limit / 2;
}

// Index of RLIMIT_NOFILE's soft limit in the request's rlimits (protocol-spec).
const NOFILE_SOFT = 10;
// The daemon's own never change: read once.
const OWN_IDS = [process.getgid?.() ?? 0, ...new Set(process.getgroups?.() ?? [])];
const OWN_RLIMITS = native.getrlimits();

/**
 * A warm process has the daemon's gid, groups and resource limits, and the
 * daemon (not root) cannot give it others: a caller whose differ (after
 * newgrp, under a lowered ulimit) runs directly. Says why, or null.
 */
function credentialsDiffer(request: RunRequest): string | null {
  // Node's getgroups() always lists the gid; the kernel's list (the shim's)
  // need not, and for access checks the gid counts either way.
  const [gid, ...groups] = request.ids;
  const theirs = new Set([gid, ...groups]);
  const mine = new Set(OWN_IDS);
  if (gid !== OWN_IDS[0] || theirs.size !== mine.size || [...theirs].some((g) => !mine.has(g))) return "the caller's groups differ from the daemon's";
  const own = OWN_RLIMITS;
  // Node raises its RLIMIT_NOFILE soft limit to the hard one as it starts
  // (a direct `node` run does too), so only that hard limit can differ.
  const compared = (i: number) => i !== NOFILE_SOFT;
  if (request.rlimits.length !== own.length || request.rlimits.some((v, i) => compared(i) && v !== own[i])) {
    return "the caller's resource limits differ from the daemon's";
  }
  return null;
}
