// The union of the page lists a template's first children report
// (daemon/src/runtimes/touched-pages.ts): pairs of (first page, count).
import assert from "node:assert/strict";
import { test } from "node:test";
import { mergePairs, RUNS_MERGED, TouchedPages } from "../daemon/src/runtimes/touched-pages";

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
