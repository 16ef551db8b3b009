// Counters and latency percentiles for `warm status`, over a bounded window,
// and how many runs went direct, by reason.
const WINDOW = 1024;
// Reasons can name paths: past this many distinct ones, the rest are counted together.
const MAX_REASONS = 64;
const OTHER = "other reasons";

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

  handedOff(us: number): void {
    this.runs++;
    this.handOffs.push(us);
    if (this.handOffs.length > WINDOW) this.handOffs.shift();
  }

  finished(us: number): void {
    this.runTimes.push(us);
    if (this.runTimes.length > WINDOW) this.runTimes.shift();
  }

  ranDirect(why: string): void {
    this.direct++;
    const key = this.directWhy.has(why) || this.directWhy.size < MAX_REASONS ? why : OTHER;
    this.directWhy.set(key, (this.directWhy.get(key) ?? 0) + 1);
  }

  summary(): { runs: number; direct: number; directByReason: Record<string, number>; handOffP50Ms: number; runP50Ms: number } {
    const byCount = [...this.directWhy].sort((a, b) => b[1] - a[1]);
    return { runs: this.runs, direct: this.direct, directByReason: Object.fromEntries(byCount), handOffP50Ms: p50(this.handOffs) / 1000, runP50Ms: p50(this.runTimes) / 1000 };
  }
}
