// Python at a terminal and under faults: tty facts, line buffering, an
// input() prompt and ^C through an interactive shell, as a direct run; a
// child killed mid-run is reported as killed; a killed template is replaced.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { reportDiff } from "./helpers/compare";
import { Terminal } from "./helpers/terminal";
import { fixture, PYTHON, WARM, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
let t: Terminal;
before(() => {
  w = new WarmEnv();
  t = new Terminal(w.env, w.work, 90, 30);
});
after(async () => {
  t.close();
  await w.stop();
});

const FACTS = `import sys, os; print("FACTS", [s.isatty() for s in (sys.stdin, sys.stdout, sys.stderr)], sys.stdout.line_buffering, sys.stderr.line_buffering, sys.stdout.encoding, sys.stdout.errors, tuple(os.get_terminal_size()))`;
const ASK = `name = input("name? "); print("hello", name)`;

function py(code: string, viaWarm: boolean): string {
  return `${viaWarm ? `"${WARM}" ` : ""}"${PYTHON}" -c '${code}'`;
}

test("at a terminal: isatty, line buffering, encoding and window size match a direct run", async () => {
  t.line(py(FACTS, false));
  const direct = (await t.expect(/FACTS [^\r\n]*/))[0];
  assert.match(direct, /\[True, True, True\] True True/);
  for (let i = 0; i < 2; i++) {
    t.line(py(FACTS, true));
    assert.equal((await t.expect(/FACTS [^\r\n]*/))[0], direct);
    await w.ready();
  }
});

test("an input() prompt works, and ^C at it ends the tool by SIGINT with a traceback, as directly", async () => {
  for (const viaWarm of [false, true, true]) {
    if (viaWarm) await w.ready();
    t.line(py(ASK, viaWarm));
    await t.expect(/name\? $/, "the prompt");
    t.line("world");
    await t.expect(/hello world/);
    if (viaWarm) await w.ready();
    t.line(py(ASK, viaWarm));
    await t.expect(/name\? $/, "the prompt");
    t.press("\x03");
    await t.expect(/KeyboardInterrupt/);
    assert.equal(await t.status("(exit $?)"), 130, viaWarm ? "warm" : "direct");
  }
});

test("a tool that opens /dev/tty (getpass): learned on its first run, then run directly at a terminal, where it works", async () => {
  const code = `import getpass; print("got", getpass.getpass("pw? "))`;
  t.line(py(code, false));
  await t.expect(/pw\? $/, "the direct prompt");
  t.line("secret");
  const direct = (await t.expect(/got secret/))[0];
  assert.doesNotMatch(t.screen, /Warning/);
  // First warm run: the child cannot open /dev/tty (getpass falls back to stdin, as CPython does), and says so.
  t.line(py(code, true));
  await t.expect(/pw\? $/, "the first warm prompt");
  t.line("secret");
  await t.expect(/got secret/);
  const before = w.status()!.direct;
  t.line(py(code, true));
  await t.expect(/pw\? $/, "the prompt of a run now direct");
  t.line("secret");
  assert.equal((await t.expect(/got secret/))[0], direct);
  assert.equal(w.status()!.direct, before + 1, "the run went direct");
});

test("a child killed mid-run is reported as killed; a killed template is replaced and runs stay right", async () => {
  const probe = fixture("python/probe.py");
  w.run([PYTHON, probe]);
  await w.ready();
  const child = w.start([PYTHON, probe, "sleep:30"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  await w.until("the tool to start sleeping", () => /sleeping \d+/.test(out));
  const pid = Number(/sleeping (\d+)/.exec(out)![1]);
  process.kill(pid, "SIGKILL");
  const signal = await new Promise((resolve) => child.on("close", (_code, sig) => resolve(sig)));
  assert.equal(signal, "SIGKILL");
  await w.ready();
  const pool = w.status()!.pools.find((p) => p.script === probe)!;
  process.kill(pool.pids[0], "SIGKILL"); // the template (status lists it first)
  const direct = w.run([PYTHON, probe, "exit:3"], { direct: true });
  for (let i = 0; i < 3; i++) {
    const r = w.run([PYTHON, probe, "exit:3"]);
    JSON.parse(r.stdout.toString()); // a whole report, as directly
    // (Not low_fds: node-pty leaves an fd open in this test process, which only a direct child inherits.)
    assert.equal(reportDiff(r.stdout.toString(), direct.stdout.toString(), ["low_fds"]), "", `run ${i} after the template was killed`);
    assert.equal(r.status, 3);
    await w.ready();
  }
});
