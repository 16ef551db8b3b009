#!/usr/bin/env node
// Waits until the warm daemon (the one bin/warm reaches with the current
// environment) has a pool with a ready process and no pool starting one;
// exits 1 after argv[2] ms (default 10000). Used as hyperfine's --prepare
// for the "paced" runs, so each timed run starts with a ready warm process.
// With BENCH_FLOOR_DIR set, it also keeps one design-floor server waiting
// there (see design-floor.ts), so every row's prepare does the same work.
// Every benchmark case has a private daemon serving only its own tool, so
// "a pool" is that tool's pool. Plain CommonJS so that it starts as fast as
// node can (it runs before every run).
"use strict";
const { spawn, spawnSync } = require("node:child_process");
const { existsSync } = require("node:fs");
const { join } = require("node:path");

const WARM = join(__dirname, "..", "..", "bin", "warm");
const timeoutMs = Number(process.argv[2] ?? 10000);

/** @returns {boolean} */
function ready() {
  const r = spawnSync(WARM, ["status", "--json"], { encoding: "utf8" });
  if (r.status !== 0) return false;
  /** @type {{ pools: { ready: number, starting: number }[] }} */
  const status = JSON.parse(r.stdout);
  return status.pools.some((p) => p.ready >= 1) && status.pools.every((p) => p.starting === 0);
}

const deadline = Date.now() + timeoutMs;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** @param {() => boolean} done @param {string} what */
function waitFor(done, what) {
  for (;;) {
    if (done()) return;
    if (Date.now() > deadline) {
      process.stderr.write(`wait-ready: ${what} after ${timeoutMs} ms\n`);
      process.exit(1);
    }
    Atomics.wait(sleeper, 0, 0, 5);
  }
}

const floor = process.env.BENCH_FLOOR_DIR;
if (floor && !existsSync(join(floor, "waiting"))) {
  const noop = join(__dirname, "..", "fixtures", "noop.js");
  spawn(process.execPath, ["-r", join(__dirname, "floor-preload.cjs"), noop], { detached: true, stdio: "ignore" }).unref();
  waitFor(() => existsSync(join(floor, "waiting")), "no design-floor server waiting");
}
waitFor(ready, "no ready warm process");
process.exit(0);
