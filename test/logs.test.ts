// warm logs through the real shim: the daemon's pino log made readable,
// as written with --json, and followed with -f as the daemon writes.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { fixture, NODE, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

test("no log yet: says where it would be, exit 1", () => {
  const r = w.run(["logs"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr.toString(), /no log yet at .*state\/warm\/daemon\.log/);
});

test("the log, readable by default and as written with --json", async () => {
  assert.equal(w.run([NODE, fixture("shebang-tool")]).status, 0);
  const pid = w.status()!.pid;
  await w.until("the daemon's start in its log", () => w.run(["logs", "--json"]).stdout.toString().includes('"msg":"daemon started"'));
  const json = w.run(["logs", "--json"]).stdout.toString().trim().split("\n").map((line) => JSON.parse(line) as { msg: string; pid: number });
  assert.ok(json.some((e) => e.msg === "daemon started" && e.pid === pid));
  const pretty = w.run(["logs"]);
  assert.equal(pretty.status, 0);
  assert.match(pretty.stdout.toString(), new RegExp(`^\\[\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\] INFO \\(${pid}\\): daemon started$`, "m"));
  assert.match(pretty.stdout.toString(), /^ {4}version: "/m);
});

test("-f prints what the daemon writes next", async () => {
  const follower = w.start(["logs", "-f"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  follower.stdout!.on("data", (d) => (out += d));
  try {
    await w.until("the log so far", () => out.includes("daemon started"));
    assert.equal(w.run(["stop"]).status, 0);
    await w.until(() => `"daemon stopping" followed; got ${out}`, () => /INFO \(\d+\): daemon stopping/.test(out));
  } finally {
    const closed = new Promise((resolve) => follower.once("close", resolve));
    follower.kill("SIGINT");
    assert.equal(await closed, 0);
  }
  assert.equal(w.run(["logs", "-x"]).status, 2);
});
