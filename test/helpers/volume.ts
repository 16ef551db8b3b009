// One setting sizes the suite's volume tests: WARM_TEST_VOLUME, the share
// of their full size they run (1: 1000 edit-then-run cycles, 10,000 soak
// runs, 100,000 fuzzed frames, 20 load rounds of 64 callers, 20 rounds of
// 50 callers whose daemon is killed, 1000 tries of the socket swap race).
// `npm test` runs 0.15 of it, to stay within minutes on two cores; `npm run
// test:volume` runs the volume tests at full size (what the numbers in the
// issues were measured with).
const share = Number(process.env.WARM_TEST_VOLUME ?? 0.15);
if (!(share > 0)) throw new Error(`WARM_TEST_VOLUME must be a number above 0 (the share of the full volume), not ${process.env.WARM_TEST_VOLUME}`);

/** `full` scaled by WARM_TEST_VOLUME, and never under `least`. */
export function sized(full: number, least = 1): number {
  return Math.max(least, Math.round(full * share));
}
