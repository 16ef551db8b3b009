// At a terminal, `warm node tool` is indistinguishable from `node tool`:
// tty facts, colour, ^C, ^Z and fg, window resizes, raw keys, SIGPIPE, and
// what happens when the shim itself goes away.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Terminal } from "./helpers/terminal";
import { alive, fixture, NODE, until, WARM, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
let t: Terminal;
before(() => {
  w = new WarmEnv();
  t = new Terminal(w.env, w.work, 80, 24);
});
after(async () => {
  t.close();
  await w.stop();
});

const probe = fixture("tty-probe.js");
const direct = `"${NODE}" "${probe}"`;
const warm = `"${WARM}" "${NODE}" "${probe}"`;

/** The warm form of a mode, once a warm process for the probe is ready (all modes share one pool). */
async function warmed(mode: string): Promise<string> {
  await t.status(`${warm} facts`);
  await w.ready();
  return `${warm} ${mode}`;
}

test("isatty, window size, colour depth and colours match a direct run", async () => {
  const facts = /FACTS [^\r\n]*/;
  t.line(`${direct} facts`);
  const d = (await t.expect(facts))[0];
  for (const form of [`${warm} facts`, await warmed("facts")]) {
    t.line(form);
    assert.equal((await t.expect(facts))[0], d);
  }
  assert.match(d, /tty=true,true,true size=80x24/);
  // The same tool off the terminal has warm processes of its own (the tty mask is in the key).
  w.run([NODE, probe, "color"]);
  await w.ready();
  const labels = w.status()!.pools.filter((p) => p.script === probe).map((p) => p.tool).sort();
  assert.deepEqual(labels, ["tty-probe.js [---]", "tty-probe.js [ttt]"]);
  const color = /(\x1b\[31m)?COLOR[^\r\n]*/;
  t.line(`${direct} color`);
  const c = (await t.expect(color))[0];
  t.line(await warmed("color"));
  assert.equal((await t.expect(color))[0], c);
  assert.match(c, /\x1b\[31m/);
});

test("^C ends the tool by SIGINT, as the shell sees it, and stops a shell loop", async () => {
  // An interactive shell drops the rest of a line whose job died of ^C, so $? is read on the next line.
  t.line(`${direct} hang`);
  await t.expect(/READY/);
  t.press("\x03");
  const d = await t.status("(exit $?)");
  t.line(await warmed("hang"));
  await t.expect(/READY/);
  t.press("\x03");
  assert.equal(await t.status("(exit $?)"), d);
  assert.equal(d, 130);
  // bash ends a loop on ^C only if the child died of SIGINT; otherwise the
  // next iteration would start, swallow the typed line, and never answer.
  await w.ready();
  t.line(`while true; do ${warm} hang; done`);
  await t.expect(/READY/);
  t.press("\x03");
  assert.equal(await t.status("true"), 0);
});

/** A process's state letter in /proc/<pid>/stat ("T": stopped), or "" once it is gone. */
function state(pid: number): string {
  try {
    return /^\S+ \(.*\) (\S) /.exec(readFileSync(`/proc/${pid}/stat`, "utf8"))?.[1] ?? "";
  } catch {
    return "";
  }
}

/** How `jobs -l` describes the job stopped by ^Z: bash says "Stopped" for SIGTSTP, "Stopped (signal)" for SIGSTOP. */
async function stoppedState(): Promise<string> {
  const at = t.screen.length;
  t.line("jobs -l");
  await t.expect(/\d+ Stopped[^\r\n]*/);
  return /\d+ (Stopped(?: \([a-z ]+\))?)/.exec(t.screen.slice(at))![1];
}

test("^Z stops the tool and the shell reports the job stopped; fg resumes it", async () => {
  t.line(`${direct} ticks`);
  const directPid = Number((await t.expect(/READY (\d+)/))[1]);
  await t.expect(/tick 2/);
  t.press("\x1a");
  await t.expect(/Stopped/);
  const d = await stoppedState();
  // The shell reports a job stopped once its process has stopped.
  assert.equal(state(directPid), "T", "the direct run is stopped when the shell says so");
  // Ended the way a person would (bash's `wait` on a job it still sees stopped returns at once).
  t.line("fg");
  await t.expect(/tick \d+/);
  t.press("\x03");
  assert.equal(await t.status("true"), 0);
  t.line(await warmed("ticks"));
  const pid = Number((await t.expect(/READY (\d+)/))[1]);
  await t.expect(/tick 2/);
  t.press("\x1a");
  await t.expect(/Stopped/);
  assert.equal(await stoppedState(), d, "jobs -l says what it says of a direct run");
  assert.equal(d, "Stopped");
  // The tool itself is stopped (no ticks while stopped), not only the shim the shell waits for, and
  // already when the shell says so, as a direct run's is: a tool stopping later could take the line
  // typed after "Stopped" (the `fg`) from the shell (the shim stops once its tool has).
  assert.equal(state(pid), "T", `the warm tool (${pid}) is stopped when the shell says so`);
  t.line("fg");
  await t.expect(/tick \d+/);
  t.press("\x03");
  assert.equal(await t.status("true"), 0);
});

test("^Z at a readline prompt (raw mode: Node's readline stops its own process) stops the job, as directly; fg resumes it", async () => {
  const seen: string[] = [];
  for (const form of [`${direct} ask`, await warmed("ask")]) {
    t.line(form);
    await t.expect(/NAME\? /);
    t.press("\x1a");
    await t.expect(/Stopped/, `${form}: the shell sees the job stopped`);
    const stopped = await stoppedState();
    // Node's readline redraws its prompt on SIGCONT, with its input paused: the process then ends (status 0).
    seen.push(`${stopped}, then ${await t.status("fg")}`);
  }
  assert.equal(seen[1], seen[0]);
  assert.equal(seen[0], "Stopped, then 0");
});

test("^Z and a tool that handles SIGTSTP: its handler runs, and stops it or lets it run on, as directly", async () => {
  for (const form of [direct, await warmed("ticks")].map((f) => f.replace(/ ticks$/, ""))) {
    t.line(`${form} tstp-handler`);
    await t.expect(/READY/);
    t.press("\x1a");
    await t.expect(/HANDLED SIGTSTP/, `${form}: the handler runs`);
    await t.expect(/Stopped/, `${form}: the handler stopped it, and the shell sees the job stopped`);
    t.line("fg");
    await t.expect(/CONTINUED/, `${form}: fg resumes it`);
    t.press("\x03");
    assert.equal(await t.status("true"), 0);
    t.line(`${form} tstp-runs-on`);
    await t.expect(/READY/);
    t.press("\x1a");
    const at = t.screen.length;
    await t.expect(/HANDLED SIGTSTP[\s\S]*tick 3/, `${form}: it runs on`);
    assert.doesNotMatch(t.screen.slice(at), /Stopped/);
    t.press("\x03");
    assert.equal(await t.status("true"), 0);
  }
});

test("bg resumes a stopped tool in the background", async () => {
  t.line(await warmed("ticks"));
  await t.expect(/tick 1/);
  t.press("\x1a");
  await t.expect(/Stopped/);
  t.line("bg");
  const at = t.screen.length;
  await w.until("ticks in the background", () => /tick \d+/.test(t.screen.slice(at)));
  assert.equal(await t.status("kill %1; wait %1"), 143);
});

/** Asks the shell for its jobs (`jobs -l`, each time once it has answered the last) until what it says passes `done`. */
async function jobsUntil(what: string, done: (jobs: string) => boolean): Promise<void> {
  let said = "";
  for (let i = 0; i < 200; i++) {
    const tag = `J${i}-${Math.random().toString(36).slice(2, 8)}`;
    // The line as typed (echoed by the terminal) reads ${tag}=""END, the shell's answer ${tag}=END.
    t.line(`jobs -l; echo "${tag}=""END"`);
    const [seen] = await t.expect(new RegExp(`[\\s\\S]*?${tag}=END`), what);
    said = seen.slice(seen.indexOf(`${tag}=""END`));
    if (done(said)) return;
  }
  throw new Error(`terminal: ${what}: not said after 200 answers of \`jobs -l\`; the last: ${JSON.stringify(said)}`);
}

test("a background job that reads the terminal (or writes under tostop) is stopped by the terminal, as directly", async () => {
  await warmed("facts");
  const cases = [`${direct} ask`, `${warm} ask`, `${direct} facts`, `${warm} facts`];
  for (const job of cases) {
    const tostop = job.endsWith("facts");
    if (tostop) assert.equal(await t.status("stty tostop"), 0);
    t.line(`${job} & echo "JOB=$!"`);
    const pid = Number((await t.expect(/JOB=(\d+)/))[1]);
    const stops = `${job}: the job stops on terminal ${tostop ? "output" : "input"}`;
    await until(() => `${stops}; its state: ${state(pid)}`, () => state(pid) === "T");
    // bash tells of a stopped job once it has reaped its stop (SIGCHLD).
    await jobsUntil(stops, (seen) => new RegExp(`\\b${pid} Stopped`).test(seen));
    // Killed by pid: bash may go on listing a stopped job killed by SIGKILL (seen for 200 answers
    // of `jobs`, long after its zombie), so its job numbers say nothing here; the pid's death does.
    // (wait on a stopped job returns at once, so its status says nothing either)
    t.line(`kill -9 ${pid}`);
    await until(`${job} to die of SIGKILL`, () => !alive(pid));
    if (tostop) assert.equal(await t.status("stty -tostop"), 0);
  }
});

test("a readline prompt works as directly", async () => {
  for (const [form, name] of [[direct, "direct"], [await warmed("ask"), "warm"]]) {
    t.line(form.endsWith("ask") ? form : `${form} ask`);
    await t.expect(/NAME\? /);
    t.line(`pat-${name}`);
    await t.expect(new RegExp(`HELLO pat-${name}`));
  }
});

test("a window resize reaches the tool with the new size", async () => {
  t.line(await warmed("resize"));
  await t.expect(/READY/);
  t.resize(100, 40);
  await t.expect(/RESIZED 100x40/);
  t.resize(80, 24);
});

test("raw mode: a single keypress arrives unbuffered and the terminal is restored", async () => {
  t.line(await warmed("key"));
  await t.expect(/READY/);
  t.press("x");
  // (Once the shell's prompt is back: a line typed before would be echoed ahead of it.)
  await t.expect(/KEY 120[\s\S]*\$ /);
  // Canonical mode is back: a typed line reaches the shell whole.
  t.line('echo "cano""nical"');
  await t.expect(/\ncanonical/);
});

test("a tool that exits leaving raw mode on: the terminal is restored, as node restores it", async () => {
  const stty = async () => {
    t.line("stty -g");
    // (The shell's prompt may come first: the line can be typed before the last command's prompt is out.)
    return (await t.expect(/\n(?:\$ )?([0-9a-f:]{20,})\r/))[1];
  };
  const before = await stty();
  // Typing before the prompt is back would reach a terminal still in raw mode.
  t.line(`${direct} leave-raw`);
  await t.expect(/LEFT RAW[\s\S]*\$ /);
  assert.equal(await stty(), before, "direct");
  t.line(await warmed("leave-raw"));
  await t.expect(/LEFT RAW[\s\S]*\$ /);
  assert.equal(await stty(), before, "warm");
});

test("a tool that opens /dev/tty: told why once, then run directly at a terminal, where it works", async () => {
  t.line(`${direct} devtty`);
  await t.expect(/PROMPT> /);
  t.line("yes-direct");
  await t.expect(/ANSWER yes-direct/);
  // Warm cannot give it a controlling terminal: the first warm run reports why...
  t.line(await warmed("devtty"));
  const first = (await t.expect(/DEVTTY [^\r\n]*/))[0];
  assert.equal(first, "DEVTTY ENXIO explained");
  // ...and from then on the tool runs directly at a terminal, and works.
  t.line(`${warm} devtty`);
  await t.expect(/PROMPT> /);
  t.line("yes-warm");
  await t.expect(/ANSWER yes-warm/);
  // Not at a terminal, it still runs warm.
  const before = w.status()!.runs;
  w.run([NODE, probe, "color"]);
  assert.equal(w.status()!.runs, before + 1);
});

test("SIGPIPE: a tool writing forever into `| head -1` ends as promptly as directly", async () => {
  const d = w.run(["sh", "-c", `${direct} yes | head -1; echo "pipe=$?"`], { direct: true });
  const r = w.run(["sh", "-c", `${warm} yes | head -1; echo "pipe=$?"`], { direct: true });
  assert.equal(r.stdout.toString(), d.stdout.toString());
  assert.equal(r.stdout.toString(), "y\npipe=0\n");
});

test("INT, QUIT, HUP, WINCH reach the tool and its children; USR1, USR2, ALRM, VTALRM, PROF, IO, PWR, TERM reach the tool", async () => {
  w.run([NODE, probe, "color"]);
  await w.ready();
  const child = w.start([NODE, probe, "signals"]);
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  await w.until("the child to be ready", () => out.includes("child ready"));
  for (const sig of ["SIGINT", "SIGQUIT", "SIGHUP", "SIGWINCH", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGVTALRM", "SIGPROF", "SIGIO", "SIGPWR"] as const) {
    child.kill(sig);
    await w.until(`the tool to get ${sig}`, () => out.includes(`tool got ${sig}`));
    if (["SIGINT", "SIGQUIT", "SIGHUP", "SIGWINCH"].includes(sig)) await w.until(`its child to get ${sig}`, () => out.includes(`child got ${sig}`));
  }
  child.kill("SIGTERM");
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  assert.equal(code, 0);
  assert.doesNotMatch(out, /child got SIGUSR|child got SIGTERM/);
});

test("a second SIGTERM ends a shim whose tool ignores the first", async () => {
  w.run([NODE, probe, "color"]);
  await w.ready();
  const child = w.start([NODE, probe, "ignore-term"]);
  await new Promise<void>((resolve) => child.stdout?.on("data", (d) => String(d).includes("READY") && resolve()));
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.kill("SIGTERM");
  await w.until("the tool to get the first SIGTERM", () => out.includes("IGNORED SIGTERM"));
  assert.ok(alive(child.pid!), "the first SIGTERM went to the tool, which ignores it");
  child.kill("SIGTERM");
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on("exit", (c, s) => resolve([c, s])));
  assert.equal(code, null);
  assert.equal(signal, "SIGTERM");
});
