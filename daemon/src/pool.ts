// Warm processes ready for one key. Each serves one invocation; the pool
// starts replacements in the background so the next caller finds one ready.
import type { Message } from "./protocol/codec";

export interface ExitInfo {
  code: number | null;
  /** The number of the signal that ended it, or null. */
  signal: number | null;
  /** The process (or a coprocess, for its child) already gave the shim this status itself (protocol-spec, "Reporting to the shim"). */
  told?: boolean;
  /** The status cannot be known (a coprocess died with its runner): the shim gets this error. */
  lost?: string;
}

/** A process that serves one invocation: a fresh Node process, or a child forked from a Python template. */
export interface WarmProcess {
  readonly pid: number;
  state: "starting" | "ready" | "running" | "gone";
  /** What it reported once it could serve (runtime-specific), or null if it never could. */
  readonly ready: Promise<object | null>;
  readonly exited: Promise<ExitInfo>;
  /** Resident memory once ready (KiB), for the memory limits; 0 until then. */
  rssKiB: number;
  /**
   * A run slot on a process the limits count once, as its pool's helper (a
   * fork-mode coprocess serves every slot of its pool): no process, and no
   * memory, of its own.
   */
  readonly shares?: boolean;
  /**
   * The CPU time getting it ready took (us, from starting the interpreter to
   * ready: the start-up a direct run pays and a warm run skips); 0 until then.
   */
  startupUs?: number;
  /**
   * False when it never became ready for a cause another process's failure
   * already counted (the children of one template that ended or hung): a
   * pool gives up on a tool whose processes keep failing, each cause once.
   */
  readonly failureCounts?: boolean;
  /**
   * Hands a run over with the caller's fds 0-2 and the client link (the
   * process tells the shim `started` and `exit` itself, so its run outlives
   * the daemon): true once taken (no tool code ran yet), false if it died first.
   */
  run(message: Message, fds: number[]): Promise<boolean>;
  kill(signal?: NodeJS.Signals): void;
  /**
   * The shim went away mid-run without the tool's status: only a signal it
   * cannot forward (SIGKILL) does that, and the tool ends as if it had been
   * the process killed (SIGKILL, itself alone), unless it had finished.
   */
  callerGone(): void;
  /** Lets an idle process go quietly. */
  release(): void;
}

/** SIGKILL to one process (not its group), if it is still there. */
export function killPid(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

export interface PoolOwner {
  /** Starts a new warm process for this pool (its spec is rebuilt each time, from what was learned); `forCaller`: a caller waits for it. */
  launch(pool: Pool, forCaller: boolean): WarmProcess | null;
  /** Judges a process that finished preloading: may it serve callers, and was anything learned from it? */
  assess(pool: Pool, info: object): { usable: boolean; learned: boolean };
  /** Whether `pool` may start one more process under the global limit (evicting least recently used ones if needed). */
  canStartMore(pool: Pool): boolean;
  /** Processes of the pool's own beyond its warm ones (a Python template), for status. */
  helperPids?(pool: Pool): number[];
  /** Those processes for the limits: how many, their memory (KiB), and whether they serve no run now (they may give way). */
  helpers?(pool: Pool): { count: number; kib: number; idle: boolean };
  /** Lets an idle pool go whole, helpers included (the limits need the room). */
  dropIdle?(pool: Pool): void;
  /** Whether a caller may wait for a process still starting (one that may turn out unusable should not cost a caller); default yes. */
  mayWait?(pool: Pool): boolean;
  /** Whether to start a process for a caller that found none (default yes); if not, it runs directly and one starts in the background. */
  mayStartForCaller?(pool: Pool): boolean;
  /** How the pool starts its processes and why, for status ("" if nothing to say). */
  describe?(pool: Pool): string;
}

// Why a caller runs directly when the pool has no process for it.
const NOT_PROVEN = "no warm process ready, and none of this tool's has proven usable yet (one is starting in the background)";
const KEEPS_FAILING = "this tool's warm processes keep failing to start (warm tries again when one of its files changes, or after `warm stop`)";
const NOT_STARTED = "no warm process could be started";
const NOT_USABLE = "the warm process started for this run could not be used (warm learned from it)";
const NONE_READY = "no warm process ready (one starts in the background; starting one for this run would be slower than running it directly)";
/** A process starting: whether it turned out usable, whether a caller is waiting for it, and when it started. */
interface StartEntry {
  usable: Promise<boolean>;
  claimed: boolean;
  since: number;
}

const NOT_IN_TIME = "no warm process was ready within the shim's time limit (it serves the next run)";
const NOT_SOON = "no warm process ready, and the one starting is not expected ready within the shim's time limit (it serves the next run)";
const TOO_SLOW = "no warm process ready, and this tool's take longer to start than the shim's time limit (one starts in the background)";
const CLOSED = "the tool's warm processes were let go (files changed, or the daemon is stopping)";
/** Why a pool is let go when what warm learned from one of its processes changes the tool's key or what it preloads. */
export const RELEARNED = "the tool's warm processes were let go: warm learned from it what its runs depend on (new ones are started for that)";

// A pool whose processes keep coming up unusable without anything new being
// learned stops refilling instead of spinning.
const MAX_UNUSABLE_IN_A_ROW = 6;

export class Pool {
  private readyList: WarmProcess[] = [];
  /** Processes starting, with whether a caller has already claimed each. */
  private starting = new Map<WarmProcess, StartEntry>();
  private unusableInARow = 0;
  lastUsed = Date.now();
  /** Below its size because the limits left no room at its last refill. */
  limited = false;
  /** What the pool's key is made of, by name, to tell pools of one tool apart in `warm status`. */
  facets: Record<string, string> = {};
  hits = 0;
  misses = 0;
  closed = false;
  /** Why callers of a closed pool run directly. */
  private closedWhy = CLOSED;
  /**
   * How long (ms, wall) the pool's last process took from its start to
   * ready: what one starting now is expected to take, under the machine's
   * present load. Undefined until one got there.
   */
  startMs: number | undefined;

  constructor(
    /** Changes only when learning refines it (see the Node runtime's rekey). */
    public key: string,
    readonly label: string,
    /** What its processes run (for status). */
    readonly script: string,
    public size: number,
    private readonly owner: PoolOwner,
  ) {}

  get readyCount(): number {
    return this.readyList.length;
  }

  get startingCount(): number {
    return this.starting.size;
  }

  get broken(): boolean {
    return this.unusableInARow >= MAX_UNUSABLE_IN_A_ROW;
  }

  /**
   * Something was learned from a process this pool depends on but does not
   * start itself (a Python template): its children, never ready, are then
   * no sign that the pool's processes keep failing.
   */
  learned(): void {
    this.unusableInARow = 0;
  }

  /** A ready process, or one started now for this caller; or why the caller runs directly. */
  async acquire(waitMs = Infinity): Promise<WarmProcess | string> {
    this.lastUsed = Date.now();
    if (this.closed) return this.closedWhy;
    while (this.readyList.length > 0) {
      const wp = this.readyList.shift()!;
      if (wp.state === "ready") {
        this.hits++;
        return wp;
      }
    }
    this.misses++;
    if (this.broken) return KEEPS_FAILING;
    if (this.owner.mayWait?.(this) === false) {
      this.refill(); // in the background; this caller runs directly
      return NOT_PROVEN;
    }
    // One already on its way is ready sooner than one started now.
    const end = Date.now() + waitMs;
    for (const [wp, entry] of this.starting) {
      if (entry.claimed) continue;
      // Waiting for a process that will not be ready before the shim gives
      // up costs the caller that wait on top of a direct run: it runs
      // directly at once, and the process serves the next run. (Waiting is
      // never slower than a direct run otherwise: that run would load what
      // the process is loading, from the start.)
      if (this.startMs !== undefined && entry.since + this.startMs > end) return NOT_SOON;
      const got = await this.claim(wp, entry, end);
      if (got !== NOT_USABLE) return got;
      break;
    }
    if (this.closed) return this.closedWhy;
    if (this.broken) return KEEPS_FAILING;
    if (this.owner.mayStartForCaller?.(this) === false) {
      this.refill();
      return NONE_READY;
    }
    if (this.startMs !== undefined && Date.now() + this.startMs > end) {
      this.refill();
      return TOO_SLOW;
    }
    const started = this.start(true);
    if (!started) return NOT_STARTED;
    return this.claim(started.wp, started.entry, end);
  }

  /**
   * Waits for a starting process for this caller until `end` (the shim
   * gives up at its own limit and runs directly; then nobody would use it):
   * past that the caller is answered `direct`, and the process, once
   * ready, joins the ready ones for the next caller.
   */
  private async claim(wp: WarmProcess, entry: StartEntry, end: number): Promise<WarmProcess | string> {
    entry.claimed = true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      if (Number.isFinite(end)) timer = setTimeout(() => resolve("late"), Math.max(0, end - Date.now()));
    });
    const usable = await Promise.race([entry.usable, late]);
    clearTimeout(timer);
    if (usable === "late") {
      entry.claimed = false;
      return NOT_IN_TIME;
    }
    return usable && wp.state === "ready" ? wp : NOT_USABLE;
  }

  /** Starts processes until `size` are ready or starting. */
  refill(): void {
    this.limited = false;
    while (!this.closed && !this.broken && this.readyList.length + this.starting.size < this.size) {
      if (!this.owner.canStartMore(this)) {
        this.limited = true; // until its next caller: it gave way, or nothing could
        break;
      }
      if (!this.start(false)) break;
    }
  }

  private start(forCaller: boolean): { wp: WarmProcess; entry: StartEntry } | null {
    const wp = this.owner.launch(this, forCaller);
    if (!wp) return null;
    const entry: StartEntry = { usable: Promise.resolve(false), claimed: forCaller, since: Date.now() };
    this.starting.set(wp, entry);
    const usable = wp.ready.then((info) => {
      this.starting.delete(wp);
      if (info) this.startMs = Date.now() - entry.since;
      if (!info) {
        // Died or hung while starting: nothing learned, so a pool whose
        // processes keep doing that stops trying.
        if (wp.failureCounts !== false) this.unusableInARow++;
        if (!forCaller) this.refill();
        return false;
      }
      const verdict = this.owner.assess(this, info);
      if (!verdict.usable) {
        wp.kill();
        this.unusableInARow = verdict.learned ? 0 : this.unusableInARow + 1;
        if (!forCaller) this.refill();
        return false;
      }
      this.unusableInARow = 0;
      this.lastKiB = wp.rssKiB || this.lastKiB;
      if (this.closed) wp.release();
      else if (!entry.claimed) {
        this.readyList.push(wp);
        // Dead while it waits (killed, its template gone): no longer counted
        // ready, in `warm status` or by refill. The next caller starts one.
        void wp.exited.then(() => {
          const at = this.readyList.indexOf(wp);
          if (at >= 0) this.readyList.splice(at, 1);
        });
      }
      return true;
    });
    entry.usable = usable;
    return { wp, entry };
  }

  /** Processes ready or starting, for the limits (a slot that shares its helper's process is none). */
  get processCount(): number {
    return this.processes().filter((wp) => !wp.shares).length;
  }

  /** Processes starting, for the limits. */
  get startingProcesses(): number {
    return [...this.starting.keys()].filter((wp) => !wp.shares).length;
  }

  /** Memory of the ready processes (KiB). */
  get readyKiB(): number {
    return this.readyList.reduce((sum, wp) => sum + wp.rssKiB, 0);
  }

  /** What one more process of this pool is expected to take (KiB): its last known size. */
  get expectedKiB(): number {
    for (const wp of [...this.readyList].reverse()) if (wp.rssKiB > 0) return wp.rssKiB;
    return this.lastKiB;
  }

  private lastKiB = 0;

  /** Helper processes (a Python template) as the limits count them. */
  get helpers(): { count: number; kib: number; idle: boolean } {
    return this.owner.helpers?.(this) ?? { count: 0, kib: 0, idle: false };
  }

  /** Whether something of this pool can give way to another pool: a ready process, or idle helpers. */
  get canGiveWay(): boolean {
    return this.readyList.length > 0 || (this.helpers.count > 0 && this.helpers.idle && this.starting.size === 0);
  }

  /** Lets one ready process go (to make room for another pool's), else the whole pool if only idle helpers are left; false if nothing could go. */
  evictOne(): boolean {
    const wp = this.readyList.shift();
    if (wp) {
      wp.release();
      this.limited = true;
      return true;
    }
    if (!this.canGiveWay || !this.owner.dropIdle) return false;
    this.owner.dropIdle(this);
    return true;
  }

  /** Lets every idle process go; running ones finish their invocation. `why`: what callers still waiting on it are told. */
  close(why = CLOSED): void {
    this.closed = true;
    this.closedWhy = why;
    for (const wp of this.readyList) wp.release();
    for (const wp of this.starting.keys()) wp.release();
    this.readyList = [];
  }

  processes(): WarmProcess[] {
    return [...this.readyList, ...this.starting.keys()];
  }

  describe(): string {
    return this.owner.describe?.(this) ?? "";
  }

  /** Every pid of the pool: its helpers (a Python template) first, then its warm processes. */
  pids(): number[] {
    return [...new Set([...(this.owner.helperPids?.(this) ?? []), ...this.processes().map((wp) => wp.pid)])].filter((pid) => pid > 0);
  }
}
