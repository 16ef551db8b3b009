// Counters and latency percentiles for `warm status`, over a bounded window.
const WINDOW = 1024;

function p50(samples: number[]): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export class Stats {
  runs = 0;
  direct = 0;
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

  summary(): { runs: number; direct: number; handOffP50Us: number; runP50Us: number } {
    return { runs: this.runs, direct: this.direct, handOffP50Us: p50(this.handOffs), runP50Us: p50(this.runTimes) };
  }
}
