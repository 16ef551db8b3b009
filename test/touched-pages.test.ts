// The union of the page lists a template's first children report
// (daemon/src/runtimes/touched-pages.ts): pairs of (first page, count).
import assert from "node:assert/strict";
import { test } from "node:test";
import { mergePairs, RUNS_MERGED, STALE_MIN_FAULTS, TouchedPages } from "../daemon/src/runtimes/touched-pages";

test("mergePairs: overlapping and touching spans join, others stay apart, in order; empty spans drop", () => {
  assert.deepEqual(mergePairs([], []), []);
  assert.deepEqual(mergePairs([10, 2], []), [10, 2]);
  assert.deepEqual(mergePairs([30, 5, 10, 2], [11, 4, 50, 0]), [10, 5, 30, 5]); // 10-11 and 11-14 overlap
  assert.deepEqual(mergePairs([10, 2], [12, 3]), [10, 5]); // 10-11 touches 12-14
  assert.deepEqual(mergePairs([10, 20], [12, 3, 40, 1]), [10, 20, 40, 1]); // contained
});

test(`TouchedPages: wanted until ${RUNS_MERGED} runs said, their union kept, later lists ignored`, () => {
  const t = new TouchedPages();
  assert.equal(t.pairs, null);
  for (let i = 0; i < RUNS_MERGED; i++) {
    assert.equal(t.wanted, true);
    t.add([100 * i, 1]);
  }
  assert.equal(t.wanted, false);
  t.add([5000, 1]);
  assert.deepEqual(t.pairs, Array.from({ length: RUNS_MERGED }, (_, i) => [100 * i, 1]).flat());
});

test("TouchedPages: a run faulting many more pages than the best since the list was made has the next child asked, and its list replaces the union", () => {
  const t = new TouchedPages();
  for (let i = 0; i < RUNS_MERGED; i++) t.add([100 * i, 1]);
  const merged = t.pairs;
  // Runs with the list: the best sets the bar; a run within twice it, or under the floor, changes nothing.
  t.ran(20);
  t.ran(40);
  t.ran(STALE_MIN_FAULTS);
  assert.equal(t.wanted, false);
  t.add([7000, 1]); // nobody was asked: ignored
  assert.deepEqual(t.pairs, merged);
  // The template's heap moved: a run faults far more.
  t.ran(STALE_MIN_FAULTS + 100);
  assert.equal(t.wanted, true);
  t.asked(); // one child is asked
  assert.equal(t.wanted, false);
  t.ran(STALE_MIN_FAULTS + 100); // that child's own run (its exit comes before its list)
  assert.equal(t.wanted, true, "still stale: another run faulted as many");
  t.add([9000, 3, 100, 1]);
  assert.deepEqual(t.pairs, [100, 1, 9000, 3], "the new list in place of the union");
  // The bar starts again from the runs with the new list.
  t.ran(150);
  t.ran(250);
  assert.equal(t.wanted, true, "the earlier stale mark stands until a child is asked");
  t.asked();
  t.add([9000, 3]);
  t.ran(150);
  t.ran(250);
  assert.equal(t.wanted, false, "250 is under twice the best (150) since the new list");
});

test("TouchedPages: fault counts during the first runs (lists still merging) mark nothing stale", () => {
  const t = new TouchedPages();
  t.add([1, 1]);
  t.ran(5);
  t.ran(5000);
  for (let i = 1; i < RUNS_MERGED; i++) t.add([10 * i, 1]);
  assert.equal(t.wanted, false);
});
