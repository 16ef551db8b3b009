// A tool whose modules misbehave only while a warm process preloads them
// (hang, or end the process): its runs go direct and stay correct, the pool
// stops trying, and the daemon's log says why.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fixture, NODE, WarmEnv } from "./helpers/warm-env";

/** Four runs of `cli`, each printing `out` and ending 0 (whatever its warm processes did). */
function runsRight(w: WarmEnv, cli: string, out: string): void {
  for (let i = 0; i < 4; i++) {
    const r = w.run([NODE, cli]);
    assert.equal(r.stdout.toString(), out, `run ${i}`);
    assert.equal(r.status, 0);
  }
}

test("a module that hangs while preloading is timed out; its runs go direct and stay correct", async () => {
  const other = new WarmEnv();
  try {
    other.writeConfig({ preloadTimeoutSeconds: 1 });
    const cli = fixture("hang/cli.js");
    other.env.WARM_HANG_GUARD = "1"; // every run has it; a warm process preloading the tool does not
    runsRight(other, cli, "hang tool ran\n");
    // The pool gives up on a preload that never finishes instead of spinning.
    // Six starts, each a node start-up and a 1 s preload timeout: a bound for a hang, not a timing.
    await other.until("the pool to stop trying", () => other.run(["status"]).stdout.toString().includes("stopped: keeps failing"), 180_000);
    const log = readFileSync(join(other.stateDir, "daemon.log"), "utf8");
    assert.match(log, /did not finish preloading in time/);
    const told = other.run([NODE, cli], { env: { ...other.env, WARM_DEBUG: "1" } });
    assert.equal(told.stdout.toString(), "hang tool ran\n");
    assert.match(told.stderr.toString(), /daemon says direct: this tool's warm processes keep failing to start/, "the reason a caller is told is the pool's");
  } finally {
    await other.stop();
  }
});

test("a module that ends the process while preloading: its runs go direct and stay correct, and the log says why the pool stopped", async () => {
  const other = new WarmEnv();
  try {
    const cli = fixture("dies-preloading/cli.js");
    other.env.WARM_DIES_GUARD = "1"; // every run has it; a warm process preloading the tool does not
    runsRight(other, cli, "dies-preloading tool ran\n");
    await other.until("the pool to stop trying", () => {
      if (other.run(["status"]).stdout.toString().includes("stopped: keeps failing")) return true;
      assert.equal(other.run([NODE, cli]).stdout.toString(), "dies-preloading tool ran\n");
      return false;
    }, 120_000);
    const log = readFileSync(join(other.stateDir, "daemon.log"), "utf8");
    assert.match(log, /"code":3,"msg":"warm process ended while preloading \(a module threw or exited as it loaded\)"/);
  } finally {
    await other.stop();
  }
});
