// The caller's signals reach a coprocess's run as they reach a direct run:
// INT, QUIT, HUP, WINCH, USR1 and USR2 to the run's child in fork mode, to
// the coprocess itself in serial mode (the shim sends them to the pid and
// group that `started` named); a run that does not handle one dies of it,
// and so does its caller.
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { buildExamples, C_EXAMPLE } from "./helpers/coprocess";
import { fixture, WarmEnv } from "./helpers/warm-env";

const TRAP = fixture("coprocess/trap.py");
const SIGNALS = ["SIGINT", "SIGQUIT", "SIGHUP", "SIGWINCH", "SIGUSR1", "SIGUSR2"] as const;

let w: WarmEnv;
let bin: string;
before(() => {
  buildExamples();
  w = new WarmEnv();
  bin = join(w.dir, "bin");
  mkdirSync(bin);
  // Serial mode under names of their own (the config's), with EX_SERIAL in their key.
  symlinkSync(TRAP, join(bin, "trap-serial"));
  symlinkSync(C_EXAMPLE, join(bin, "example-serial"));
  w.writeConfig({
    tools: {
      "trap.py": { coprocess: { mode: "fork" } },
      "trap-serial": { coprocess: { mode: "serial" }, env: ["EX_SERIAL"] },
      example: { coprocess: { mode: "fork" } },
      "example-serial": { coprocess: { command: [C_EXAMPLE], mode: "serial" }, env: ["EX_SERIAL"] },
    },
  });
});
after(async () => {
  await w.stop();
});

/** The tool run with its stdin open, directly or warm: what it printed once each signal was sent and its stdin closed. */
async function trapped(cmd: string, env: NodeJS.ProcessEnv, direct: boolean): Promise<{ out: string; code: number | null; signal: NodeJS.Signals | null }> {
  const child = w.start([cmd], { direct, env, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  await w.until(() => `${cmd} to be ready (out ${JSON.stringify(out)}, err ${JSON.stringify(err)})`, () => out.includes("ready\n"));
  for (const sig of SIGNALS) {
    child.kill(sig);
    await w.until(() => `${cmd} (${direct ? "directly" : "warm"}) to get ${sig} (out ${JSON.stringify(out)}, err ${JSON.stringify(err)})`, () => out.includes(`got ${sig}\n`));
  }
  child.stdin!.end();
  return { out, ...(await ended) };
}

for (const mode of ["fork", "serial"] as const) {
  test(`${mode} mode: INT, QUIT, HUP, WINCH, USR1 and USR2 reach the run, which handles them, as directly`, async () => {
    const cmd = mode === "fork" ? TRAP : join(bin, "trap-serial");
    const env = mode === "serial" ? { ...w.env, EX_SERIAL: "1" } : w.env;
    w.run([cmd], { env }); // learns the tool is a coprocess; its pool starts
    await w.ready();
    const direct = await trapped(cmd, env, true);
    assert.equal(direct.out, `ready\n${SIGNALS.map((s) => `got ${s}\n`).join("")}`);
    for (let i = 0; i < 2; i++) {
      const before = w.status()!.runs;
      assert.deepEqual(await trapped(cmd, env, false), direct, `warm run ${i}`);
      assert.equal(w.status()!.runs, before + 1, "it ran warm");
      await w.ready();
    }
  });

  test(`${mode} mode: a run that does not handle INT, QUIT, HUP, USR1 or USR2 dies of it, and its caller too, as directly`, async () => {
    const cmd = mode === "fork" ? C_EXAMPLE : join(bin, "example-serial");
    const env = mode === "serial" ? { ...w.env, EX_SERIAL: "1" } : w.env;
    w.run([cmd], { env });
    for (const sig of ["SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2"] as const) {
      const outcomes: [number | null, string | null][] = [];
      for (const direct of [true, false]) {
        // A serial coprocess dies with the run: the daemon starts another.
        if (!direct) await w.ready();
        const before = w.status()!.runs;
        const child = w.start([cmd, "--stdin"], { direct, env, stdio: ["pipe", "pipe", "pipe"] });
        // The tool has started (it wrote to stderr) and blocks reading its stdin.
        await new Promise((resolve) => child.stderr!.once("data", resolve));
        const ended = new Promise<[number | null, string | null]>((resolve) => child.on("exit", (code, signal) => resolve([code, signal])));
        child.kill(sig);
        outcomes.push(await ended);
        child.stdin!.destroy();
        if (!direct) assert.equal(w.status()!.runs, before + 1, `${sig}: it ran warm`);
      }
      assert.deepEqual(outcomes[1], outcomes[0], sig);
      assert.deepEqual(outcomes[0], [null, sig], `${sig}: the direct run died of it`);
    }
  });
}
