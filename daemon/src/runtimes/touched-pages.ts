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
// A list also goes stale: a Node template's full collections give V8's
// young generation new pages now and then, and from then on every child
// faulted the new ones on its caller's time (the 300-module CLI: ~140
// faults a run instead of ~15, for as long as the template lived). So
// children say how many pages their run faulted (`faults` in `exit`), and
// a run that faulted many more than the best run since the list was made
// has the next child report its list, which replaces the old one.

/** How many runs' lists are merged. */
export const RUNS_MERGED = 4;
/** A run that faulted more pages than this and than twice the best run since the list was made has the list made again. */
export const STALE_MIN_FAULTS = 64;

export class TouchedPages {
  /** The merged list, or null until a run reported one. */
  pairs: number[] | null = null;
  private runs = 0;
  /** The fewest faults a run took since the list last changed. */
  private best = Infinity;
  /** The list looked stale: the next child is asked for its own. */
  private stale = false;
  /** A child was asked for a list to replace a stale one. */
  private replacing = false;

  /** Whether the next run should report its list: one of the first few, or the list looked stale. */
  get wanted(): boolean {
    return this.runs < RUNS_MERGED || this.stale;
  }

  /** The next run was asked to report its list (as `wanted` said). */
  asked(): void {
    if (this.runs < RUNS_MERGED || !this.stale) return;
    this.stale = false; // one child asked is enough
    this.replacing = true;
  }

  /** A run's list: merged into the first few, or in place of a stale one; otherwise ignored. */
  add(pairs: number[]): void {
    if (this.runs < RUNS_MERGED) {
      this.runs++;
      this.pairs = mergePairs(this.pairs ?? [], pairs);
    } else if (this.replacing) {
      // It faulted in, while it waited, every page of the old list still
      // mapped, so its list has those and what its run took besides.
      this.replacing = false;
      this.pairs = mergePairs([], pairs);
    } else return;
    this.best = Infinity;
  }

  /** A run faulted this many pages. */
  ran(faults: number): void {
    if (this.runs < RUNS_MERGED) return;
    this.best = Math.min(this.best, faults);
    if (faults > STALE_MIN_FAULTS && faults > 2 * this.best) this.stale = true;
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
