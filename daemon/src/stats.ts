// Counters and latency percentiles for `warm status`, over a bounded window,
// how many runs went direct, by reason, and the counters of each `warm exec`
// session (its runs carry WARM_EXEC_ID).
const WINDOW = 1024;
// Reasons can name paths: past this many distinct ones, the rest are counted together.
const MAX_REASONS = 64;
const OTHER = "other reasons";
const SESSIONS = 64;

/** The variable `warm exec` sets for its command: runs that carry it are counted for that session. */
export const EXEC_TAG = "WARM_EXEC_ID";

export interface ExecTally {
  warm: number;
  direct: number;
  /** Sum over its warm runs of the warm process's start-up (CPU time) minus the hand-off (ms). */
  savedMs: number;
}

function p50(samples: number[]): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export class Stats {
  runs = 0;
  direct = 0;
  private readonly directWhy = new Map<string, number>();
  private handOffs: number[] = [];
  private runTimes: number[] = [];
  private sessions = new Map<string, ExecTally>();

  /** A run handed to a warm process after `us`, whose start-up took `startupUs` of CPU. */
  handedOff(us: number, session: string | undefined, startupUs: number): void {
    this.runs++;
    this.handOffs.push(us);
    if (this.handOffs.length > WINDOW) this.handOffs.shift();
    const tally = this.session(session);
    if (tally) {
      tally.warm++;
      tally.savedMs += Math.max(0, startupUs - us) / 1000;
    }
  }

  finished(us: number): void {
    this.runTimes.push(us);
    if (this.runTimes.length > WINDOW) this.runTimes.shift();
  }

  /** A run the shim was told to run directly. */
  ranDirect(why: string, session: string | undefined): void {
    this.direct++;
    const key = this.directWhy.has(why) || this.directWhy.size < MAX_REASONS ? why : OTHER;
    this.directWhy.set(key, (this.directWhy.get(key) ?? 0) + 1);
    const tally = this.session(session);
    if (tally) tally.direct++;
  }

  private session(id: string | undefined): ExecTally | undefined {
    if (id === undefined) return undefined;
    let tally = this.sessions.get(id);
    if (!tally) {
      tally = { warm: 0, direct: 0, savedMs: 0 };
      this.sessions.set(id, tally);
      // The oldest session goes first (Map keeps insertion order).
      if (this.sessions.size > SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    }
    return tally;
  }

  summary(): { runs: number; direct: number; directByReason: Record<string, number>; handOffP50Ms: number; runP50Ms: number; exec: Record<string, ExecTally> } {
    const byCount = [...this.directWhy].sort((a, b) => b[1] - a[1]);
    return {
      runs: this.runs,
      direct: this.direct,
      directByReason: Object.fromEntries(byCount),
      handOffP50Ms: p50(this.handOffs) / 1000,
      runP50Ms: p50(this.runTimes) / 1000,
      exec: Object.fromEntries(this.sessions),
    };
  }
}
