// Coprocesses at a terminal, through an interactive shell: the tty facts of
// a run match a direct run (a coprocess starts on a terminal when its callers
// have one), ^C ends the run by SIGINT and ^Z stops it, `fg` resumes it: in
// fork mode (the run's child gets the signals) and in serial mode (the
// coprocess itself does).
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { buildC, COPROCESS_DIR } from "./helpers/coprocess";
import { Terminal } from "./helpers/terminal";
import { WARM, WarmEnv } from "./helpers/warm-env";

const C_EXAMPLE = join(COPROCESS_DIR, "c", "example");
const PY_EXAMPLE = join(COPROCESS_DIR, "python", "example.py");

let w: WarmEnv;
let t: Terminal;
// The C example in serial mode, under a name of its own (the config's).
let serial: string;
before(() => {
  buildC();
  w = new WarmEnv();
  w.writeConfig({ tools: { example: { coprocess: {} }, "example-serial": { coprocess: { command: [C_EXAMPLE], mode: "serial" }, env: ["EX_SERIAL"] } } });
  mkdirSync(join(w.dir, "bin"));
  serial = join(w.dir, "bin", "example-serial");
  symlinkSync(C_EXAMPLE, serial);
  t = new Terminal({ ...w.env, EX_SERIAL: "1" }, w.work, 90, 30);
});
after(async () => {
  t.close();
  await w.stop();
});

test("at a terminal: a run's fds are the terminal (isatty), as directly", async () => {
  for (const tool of [C_EXAMPLE, PY_EXAMPLE]) {
    t.line(`${tool} x`);
    assert.match((await t.expect(/tty \d\d\d/))[0], /tty 111/);
    for (let i = 0; i < 3; i++) {
      t.line(`"${WARM}" ${tool} x`);
      assert.equal((await t.expect(/tty \d\d\d/))[0], "tty 111", `${tool}, warm run ${i}`);
      await w.ready();
    }
  }
});

test("^C at a warm run reading the terminal ends it by SIGINT (status 130), as directly", async () => {
  for (const viaWarm of [false, true]) {
    if (viaWarm) await w.ready();
    const tag = `S${viaWarm ? "w" : "d"}`;
    t.line(`${viaWarm ? `"${WARM}" ` : ""}${C_EXAMPLE} --stdin`);
    await t.expect(/to stderr/, "the run has started");
    t.press("\x03");
    // (An interactive bash drops the rest of a command list that a child's SIGINT ended: ask at the next prompt.)
    await t.expect(/\^C[^]*\$ $/, "the prompt after ^C");
    t.line(`echo "${tag}=$?"`);
    assert.equal((await t.expect(new RegExp(`${tag}=(\\d+)`)))[1], "130");
  }
});

for (const mode of ["fork", "serial"] as const) {
  test(`${mode} mode: ^Z stops a warm run and the shell says so; fg resumes it and it reads the terminal`, async () => {
    const tool = mode === "fork" ? C_EXAMPLE : serial;
    if (mode === "serial") {
      // The first runs learn the names its hello declares and start a coprocess on the terminal.
      for (const i of [1, 2]) {
        t.line(`"${WARM}" ${tool} learn${i}`);
        await t.expect(new RegExp(`arg learn${i}[^]*to stderr`));
      }
    }
    await w.ready();
    const before = w.status()!.runs;
    t.line(`"${WARM}" ${tool} --stdin`);
    await t.expect(/to stderr/, "the run has started");
    t.press("\x1a");
    await t.expect(/Stopped/, "the job stopped");
    t.line("fg");
    t.line(`typed after fg (${mode})`);
    t.press("\x04");
    // The terminal echoes the line, the tool writes it back at EOF (the shell may echo the job's command line between).
    await t.expect(new RegExp(`typed after fg \\(${mode}\\)[^]*typed after fg \\(${mode}\\)\r\n`), "the run read the line and wrote it back");
    t.line(`echo "Z=$?"`);
    await t.expect(/Z=0/, "it ended with status 0");
    assert.equal(w.status()!.runs, before + 1, "it ran warm");
    if (mode === "serial") {
      // The coprocess, stopped and resumed, serves the next run.
      t.line(`"${WARM}" ${tool} again`);
      await t.expect(/arg again[^]*to stderr/);
      assert.equal(w.status()!.runs, before + 2, "the next run ran warm on it");
    }
  });
}
