// A coprocess's run outlives its daemon (protocol-spec/coprocess.md): the
// runner tells the shim `started` and `exit` itself, and a fork-mode
// coprocess whose link ends reaps its children and tells their shims how
// they ended. So when the daemon is killed mid-run, the tool finishes and
// its caller gets the real status and every byte, for each library.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { buildExamples, C_EXAMPLE, EXAMPLES, gated, missing } from "./helpers/coprocess";
import { alive, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
before(() => {
  buildExamples();
  w = new WarmEnv();
  w.writeConfig({ tools: { example: { coprocess: { mode: "fork" } }, "example-go": { coprocess: { mode: "serial" } } } });
});
after(async () => {
  await w.stop();
});

/** The daemon, with a ready coprocess for cmd (the first run learns the names its hello declares). */
async function warmFor(cmd: string[]): Promise<number> {
  w.run(cmd);
  w.run(cmd);
  await w.ready();
  return w.status()!.pid;
}

async function killDaemon(daemon: number): Promise<void> {
  process.kill(daemon, "SIGKILL");
  await w.until("the daemon to exit", () => !alive(daemon));
}

for (const [name, example] of EXAMPLES) {
  test(`${name}: the daemon killed mid-run: the tool finishes and its caller gets its status and output, as directly`, { skip: missing(name) }, async () => {
    const daemon = await warmFor([example]);
    const gate = join(w.dir, `gate-${name}`);
    const env = { ...w.env, EX_GATE: gate, EX_EXIT: "7" };
    const run = gated(w, [example, "after"], env);
    const pid = await run.pid;
    assert.notEqual(pid, run.child.pid, "the tool runs warm");
    await killDaemon(daemon);
    writeFileSync(gate, "");
    const r = await run.done;
    const direct = w.run([example, "after"], { direct: true, env });
    assert.deepEqual([r.code, r.signal, r.err], [direct.status, direct.signal, direct.stderr.toString()]);
    assert.equal(r.out.replace(/^pid \d+\n/, ""), direct.stdout.toString().replace(/^pid \d+\n/, ""));
    assert.equal(r.code, 7);
  });
}

// Fork mode: the coprocess reaps the child and tells its shim, so even a
// death by signal, which no child can report, reaches the caller.
for (const [name, example] of EXAMPLES.filter(([n]) => n !== "Go")) {
  test(`${name}: the daemon killed mid-run, then the tool dies by SIGTERM: its caller dies by SIGTERM`, { skip: missing(name) }, async () => {
    const daemon = await warmFor([example]);
    const gate = join(w.dir, `gate-signal-${name}`);
    const run = gated(w, [example], { ...w.env, EX_GATE: gate, EX_SIGNAL: "15" });
    assert.notEqual(await run.pid, run.child.pid, "the tool runs warm");
    await killDaemon(daemon);
    writeFileSync(gate, "");
    const r = await run.done;
    assert.deepEqual([r.code, r.signal], [null, "SIGTERM"], r.err);
  });
}

test("C: the daemon killed while several runs of one fork-mode coprocess are under way: each caller gets its own status", async () => {
  const daemon = await warmFor([C_EXAMPLE]);
  const gate = join(w.dir, "gate-many");
  const runs = [0, 1, 2, 3].map((i) => gated(w, [C_EXAMPLE, String(i)], { ...w.env, EX_GATE: gate, EX_EXIT: String(10 + i) }));
  await Promise.all(runs.map((r) => r.pid));
  const coprocesses = w.status()!.pools.flatMap((p) => p.pids);
  await killDaemon(daemon);
  writeFileSync(gate, "");
  const done = await Promise.all(runs.map((r) => r.done));
  assert.deepEqual(
    done.map((r) => r.code),
    [10, 11, 12, 13],
  );
  for (const [i, r] of done.entries()) assert.match(r.out, new RegExp(`^pid \\d+\\nargc 2\\narg ${i}\\n`));
  // The coprocess exits once its children are reaped and reported.
  await w.until("the dead daemon's coprocesses to exit", () => coprocesses.every((p) => !alive(p)));
});
