// Python at a terminal and under faults: tty facts, line buffering, an
// input() prompt and ^C through an interactive shell, as a direct run; a
// child killed mid-run is reported as killed; a killed template is replaced.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
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

// read(2)'s number in /proc/<pid>/syscall, by architecture.
const READ_SYSCALL: Partial<Record<string, number>> = { x64: 0, arm64: 63, riscv64: 63 };

/** Whether pid is blocked in read(2) on fd 0, as the kernel says. */
function readingStdin(pid: number): boolean {
  const fields = readFileSync(`/proc/${pid}/syscall`, "utf8").split(" ");
  return Number(fields[0]) === READ_SYSCALL[process.arch] && fields[1] === "0x0";
}

// ^C is pressed once the tool waits in read(2) for its line. CPython
// handles a SIGINT that lands between writing the prompt and entering
// read() (its handler only sets a flag), then blocks in read() and raises
// KeyboardInterrupt only when a line comes: directly as through warm. A ^C
// pressed the moment the prompt shows hits that window on a loaded machine.
test("an input() prompt works, and ^C at it ends the tool by SIGINT with a traceback, as directly", async (c) => {
  if (READ_SYSCALL[process.arch] === undefined) return c.skip(`cannot tell from /proc/<pid>/syscall when a process blocks in read(2) on ${process.arch}`);
  const ask = `import os; name = input("name %d? " % os.getpid()); print("hello", name)`;
  for (const viaWarm of [false, true]) {
    t.line(py(ask, viaWarm));
    await t.expect(/name \d+\? $/, "the prompt");
    t.line("world");
    await t.expect(/hello world/);
    for (let i = 0; i < 10; i++) {
      if (viaWarm) await w.ready();
      t.line(py(ask, viaWarm));
      const pid = Number((await t.expect(/name (\d+)\? $/, "the prompt"))[1]);
      await w.until(`the tool (${pid}) to wait for its line`, () => readingStdin(pid));
      t.press("\x03");
      await t.expect(/KeyboardInterrupt/, `KeyboardInterrupt (${viaWarm ? "warm" : "direct"}, ^C number ${i + 1})`);
      assert.equal(await t.status("(exit $?)"), 130, viaWarm ? "warm" : "direct");
    }
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

test("a tool that opens /dev/tty itself: the first warm run's error says why (as Node's), later runs are direct and open it", async () => {
  const tool = `"${PYTHON}" "${fixture("python/devtty.py")}"`;
  t.line(`${tool} open`);
  await t.expect(/DEVTTY done/, "the direct run opens it");
  // Warm at a terminal first, without opening it.
  for (let i = 0; i < 3; i++) {
    t.line(`"${WARM}" ${tool}`);
    await t.expect(/DEVTTY done/, `warm run ${i}`);
    await w.ready();
  }
  const before = w.status()!.runs;
  t.line(`"${WARM}" ${tool} open`);
  await t.expect(/OSError: \[Errno 6\] No such device or address \(warm: this tool opens \/dev\/tty[^\r\n]*\): '\/dev\/tty'/, "the first warm run's error");
  assert.equal(w.status()!.runs, before + 1, "that run was warm");
  const direct = w.status()!.direct;
  t.line(`"${WARM}" ${tool} open; echo "exit $?"`);
  await t.expect(/DEVTTY done\r?\nexit 0/, "the next run opens it");
  assert.equal(w.status()!.direct, direct + 1, "the next run went direct");
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
