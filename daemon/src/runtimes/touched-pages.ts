// The pages of a template (Node's or Python's) that its children's runs
// take: written or mapped since the fork, as a child reports them (`touched`,
// pairs: first page number, page count). Each new child faults them in while
// it waits, so those copy-on-write copies are not made on a caller's time.
// One run's list misses pages another run takes: a Node template's young
// generation alternates between its two semi-spaces as the template's own
// collections flip them, and a child takes the pages of the one it was
// forked with (the 300-module CLI's runs alternated between ~150 and ~290
// faults with the first child's list alone). So the lists of the first few
// runs are merged.

/** How many runs' lists are merged. */
export const RUNS_MERGED = 4;

export class TouchedPages {
  /** The merged list, or null until a run reported one. */
  pairs: number[] | null = null;
  private runs = 0;

  /** Whether the next run should report its list. */
  get wanted(): boolean {
    return this.runs < RUNS_MERGED;
  }

  /** A run's list; ignored once enough were merged. */
  add(pairs: number[]): void {
    if (!this.wanted) return;
    this.runs++;
    this.pairs = mergePairs(this.pairs ?? [], pairs);
  }
}

/** The union of two lists of (first page, count) pairs, as sorted pairs that neither overlap nor touch. */
export function mergePairs(a: number[], b: number[]): number[] {
  const spans: [number, number][] = [];
  for (const list of [a, b]) for (let i = 0; i + 1 < list.length; i += 2) if (list[i + 1] > 0) spans.push([list[i], list[i] + list[i + 1]]);
  spans.sort((x, y) => x[0] - y[0]);
  const out: number[] = [];
  let [lo, hi] = spans[0] ?? [0, 0];
  for (const [start, end] of spans.slice(1)) {
    if (start <= hi) hi = Math.max(hi, end);
    else {
      out.push(lo, hi - lo);
      [lo, hi] = [start, end];
    }
  }
  if (spans.length > 0) out.push(lo, hi - lo);
  return out;
}
