// Forking a Node template's children through the addon (daemon/addon/fork.c,
// exit.c). Build it first: npm run build:addon.
// Forking: the test runner has threads of its own, so a template of its
// own kind runs each case (test/fixtures/fork-probe.js).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";

const FORK_PROBE = path.join(__dirname, "fixtures", "fork-probe.js");
function forkProbe(scenario: string, wrap: string[] = []): Record<string, unknown> {
  const [cmd, ...args] = [...wrap, process.execPath, "--single-threaded", FORK_PROBE, scenario];
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "null") as Record<string, unknown>;
}

test("forkChild: the child runs its own loop (timers, async fs, thread pool, promises) in its own process group", () => {
  const got = forkProbe("runs");
  assert.deepEqual(got.said, { read: true, bytes: 8, pid: got.pid, pgid: got.pid });
  assert.equal((got.ended as { code: number }).code, 7);
  assert.equal((got.ended as { pid: number }).pid, got.pid);
  assert.ok((got.ended as { cpuUs: number }).cpuUs > 0);
});

test("forkChild waits for Node's platform threads to run the tasks a full collection posted them: a child forked before would wait for those tasks forever as its loop empties", () => {
  // One CPU, the platform threads at SCHED_IDLE: they run only when the template waits.
  const got = forkProbe("gc-tasks", ["taskset", "-c", "0"]);
  assert.deepEqual(got.said, { drained: true });
  assert.equal((got.ended as { code: number }).code, 0);
});

test("forkWait reports a child killed by a signal", () => {
  const got = forkProbe("signal");
  assert.deepEqual({ signal: (got.ended as { signal: number }).signal, said: got.said }, { signal: 9, said: null });
});

test("exitAfterFatal: a child's fatal exception is printed by Node, then the child ends as exitNow does", () => {
  const got = forkProbe("fatal");
  assert.equal((got.ended as { code: number }).code, 1);
  assert.equal(got.said, "exit\nclosed\n");
});

test("forkChild refuses while a thread started after the baseline exists, or a libuv request is in flight", () => {
  for (const [scenario, why] of [["thread", /a thread was started/], ["in-flight", /a libuv request is in flight/]] as const) {
    const got = forkProbe(scenario);
    assert.equal(got.code, "ENOTSAFE", scenario);
    assert.match(String(got.message), why);
  }
});

const notRoot = process.getuid?.() !== 0;
// A uid of this test's own: RLIMIT_NPROC counts every process of the uid, and other test files (run in parallel) start processes as nobody.
const PROBE_UID = 61620;

test("forkChild under a low RLIMIT_NPROC throws EAGAIN, and the template forks again once children are gone", { skip: notRoot && "needs root to run the probe as another uid (RLIMIT_NPROC does not bind root)" }, () => {
  const got = forkProbe("eagain", ["setpriv", `--reuid=${PROBE_UID}`, `--regid=${PROBE_UID}`, "--clear-groups", "prlimit", "--nproc=20"]);
  assert.equal(got.error, "EAGAIN");
  assert.deepEqual(got.again, { ran: true });
});
