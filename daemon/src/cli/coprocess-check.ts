// `warm coprocess-check [--mode fork|serial] -- COMMAND...`: plays the
// daemon's part of the coprocess protocol (protocol-spec/coprocess.md) with
// COMMAND, and runs it through the protocol's cases, each compared with a
// direct run of COMMAND given the same argv, env, cwd, umask and stdin.
// Exit codes and signals come from EX_EXIT / EX_SIGNAL, which the example
// CLIs in coprocess/ honour; for a tool that does not, those cases compare
// its ordinary run.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { native } from "../native";
import type { ExitInfo } from "../pool";
import { Coprocess, COPROCESS_VERSION, type Mode } from "../runtimes/coprocess/coprocess";
import { Link } from "../link";
import { JSON_FRAMES, type JsonMessage } from "../runtimes/coprocess/wire";
import type { DaemonToCoprocess } from "../protocol/message-types";
import { type Message, MSGPACK } from "../protocol/codec";
import { which } from "../runtimes/program";
import { UsageError } from "./word";

export const help = `NAME
    warm coprocess-check - check a coprocess against the protocol

SYNOPSIS
    warm coprocess-check [--mode fork|serial] -- COMMAND [ARGS...]

DESCRIPTION
    Starts COMMAND as warm's daemon starts a coprocess (the coprocess link on
    the fd named by WARM_COPROCESS_FD) and checks its hello, then runs it
    through the protocol's cases: argv bytes (empty, non-UTF-8, large), env,
    cwd, umask, stdin streamed through a pipe, exit codes 0-255, death by a
    signal, a crash mid-run, the caller's fds closed at the end, a run whose
    caller gone before started (nothing may run), concurrent runs (fork mode) and
    shutdown at EOF. Each run is compared byte for byte (stdout, stderr,
    status) with a direct run of COMMAND. Prints "ok" or "FAIL" per case;
    exits 0 when every case passes. Exit codes and signals are asked for
    with EX_EXIT=n and EX_SIGNAL=n, as the example CLIs in coprocess/ honour.
`;

interface Case {
  args: Buffer[];
  env?: Record<string, string>;
  cwd?: string;
  umask?: number;
  stdin?: Buffer;
  /** Compare the status only (a crash report's addresses differ run to run). */
  statusOnly?: boolean;
}

interface Outcome {
  stdout: Buffer;
  stderr: Buffer;
  code: number | null;
  signal: number | null;
  why?: string;
}

const B = (s: string) => Buffer.from(s, "utf8");
// Children the coprocess was asked to reap: shutdown waits for its answers.
const reaps: Promise<unknown>[] = [];

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("WARM_")) env[k] = v;
  return env;
}

/** A direct run, through sh so umask, cwd and argv bytes (printf for those that are not UTF-8) are exactly the case's. */
function direct(command: string[], c: Case): Outcome {
  const words = [...command.map(B), ...c.args];
  const utf8 = words.every((b) => B(b.toString("utf8")).equals(b));
  const octal = (b: Buffer) => [...b].map((x) => "\\" + x.toString(8).padStart(3, "0")).join("");
  // printf's output keeps a trailing "_" so $(...) cannot eat trailing newlines.
  const build = utf8 ? "" : `set --\n${words.map((b) => `a="$(printf '${octal(b)}_')"; set -- "$@" "\${a%_}"`).join("\n")}\n`;
  const script = `umask ${(c.umask ?? process.umask()).toString(8)}\n${build}exec "$@"\n`;
  // env -i: the environment in exactly the order the protocol run gets it.
  const env = Object.entries({ ...baseEnv(), ...c.env }).map(([k, v]) => `${k}=${v}`);
  // sh only when the case needs it: dash passes its exported variables on in an order of its own.
  const viaSh = !utf8 || c.umask !== undefined;
  const r = spawnSync("/usr/bin/env", ["-i", ...env, ...(viaSh ? ["/bin/sh", "-c", script, "sh"] : []), ...(utf8 ? words.map((b) => b.toString("utf8")) : [])], {
    cwd: c.cwd ?? "/",
    input: c.stdin ?? Buffer.alloc(0),
    maxBuffer: 1 << 28,
  });
  return { stdout: r.stdout, stderr: r.stderr, code: r.status, signal: r.signal ? constants.signals[r.signal] : null };
}

/**
 * The shim's end of a run's client link: the msgpack frames the runner (or,
 * for a child that did not report, the coprocess) writes there.
 */
function shimEnd(fd: number, frame: (m: Message) => void, ended: () => void): void {
  // A frame the shim could not read ends the link, as the shim would.
  const link: Link<Message> = new Link(fd, MSGPACK, {
    frame,
    ended,
    bad: () => {
      link.close();
      ended();
    },
  });
}

/** A run through the protocol: run → taken and started → exit (to the shim, then to the daemon; or wait). */
async function viaProtocol(cop: Coprocess, command: string[], c: Case, dir: string, opts: { stdinPipe?: boolean; callerGone?: boolean; checkEof?: boolean } = {}): Promise<Outcome> {
  const out = join(dir, `out-${Math.random()}`);
  const err = join(dir, `err-${Math.random()}`);
  const inFile = join(dir, "in");
  writeFileSync(inFile, c.stdin ?? Buffer.alloc(0));
  const [pipeR, pipeW] = native.pipe();
  const [outR, outW] = opts.checkEof ? native.pipe() : [-1, openSync(out, "w")];
  const fds = [opts.stdinPipe ? pipeR : openSync(inFile, "r"), outW, openSync(err, "w")];
  const env = { ...baseEnv(), ...c.env };
  const argv0 = B(command.length === 1 ? command[0] : command[command.length - 1]);
  const message: DaemonToCoprocess = {
    t: "run",
    argv: [argv0, ...c.args].map((b) => b.toString("base64")),
    env: Object.entries(env).map(([k, v]) => B(`${k}=${v}`).toString("base64")),
    cwd: B(c.cwd ?? "/").toString("base64"),
    umask: c.umask ?? process.umask(),
  };
  const [mine, theirs] = native.socketpair();
  const [shim, client] = native.socketpair();
  let runner = -1;
  const result = new Promise<Outcome>((resolve) => {
    const end = (e: ExitInfo | null, why?: string) => resolve({ stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), code: e?.code ?? null, signal: e?.signal ?? null, why });
    let started = -1;
    if (opts.callerGone) native.close(shim); // a shim that gave up before started: the runner's write fails
    else
      shimEnd(
        shim,
        (m) => {
          if (m.t === "started" && started < 0 && typeof m.pid === "number" && m.pgid === m.pid) started = m.pid;
          else if (m.t === "exit" && started >= 0 && (typeof m.code === "number" || typeof m.signal === "number")) end({ code: typeof m.code === "number" ? m.code : null, signal: typeof m.signal === "number" ? m.signal : null });
          else end(null, `unexpected frame on the client link: ${JSON.stringify(m).slice(0, 200)}`);
        },
        () => end(null, started < 0 ? "the client link closed before started" : "the client link closed before exit"),
      );
    let reported = false;
    const link: Link<JsonMessage> = new Link(
      mine,
      JSON_FRAMES,
      {
        frame: (m) => {
          if (m.t === "taken" && runner < 0 && typeof m.pid === "number") {
            runner = m.pid;
            if (!cop.owns(runner)) end(null, `taken names pid ${runner}, not ${cop.mode === "serial" ? "the coprocess" : "a child of it"}`);
          } else if (m.t === "exit" && runner >= 0 && typeof m.code === "number") {
            reported = true;
            link.close();
            if (cop.mode === "fork") reaps.push(cop.reap(runner, false));
          } else end(null, `unexpected frame ${JSON.stringify(m).slice(0, 200)}`);
        },
        ended: () => {
          if (reported) return;
          if (runner < 0) return end(null, "the run link closed before taken");
          // The runner did not report: in fork mode the coprocess tells the shim (and the daemon) how its child ended.
          if (cop.mode === "fork") reaps.push(cop.reap(runner, true).then((e) => (opts.callerGone || !e) && end(e, e ? undefined : "the coprocess could not say how the child ended")));
          else void cop.ended.then((e) => end(e)); // a serial runner's death is the run's: the daemon tells the shim
        },
        bad: (error) => {
          link.close();
          end(null, `bad frame on the run link: ${error.message}`);
        },
      },
      { wholeFramesOnly: true },
    );
  });
  cop.send(message, [...fds, client, theirs]);
  // The client link's other copy stays open until the run is answered, as the daemon's does.
  for (const fd of [...fds, theirs]) native.close(fd);
  if (opts.stdinPipe) void stream(pipeW, c.stdin ?? Buffer.alloc(0));
  else {
    native.close(pipeW);
    native.close(pipeR);
  }
  const timeout = new Promise<Outcome>((resolve) => setTimeout(() => resolve({ stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), code: null, signal: null, why: "no answer within 20 s" }), 20_000).unref());
  const got = await Promise.race([result, timeout]);
  native.close(client);
  if (opts.checkEof) {
    // The run has ended: the caller's stdout must see EOF now (the runner holds none of its fds).
    const chunks: Buffer[] = [];
    const deadline = Date.now() + 5000;
    for (;;) {
      const b = native.readNonblocking(outR, 65536);
      if (b && b.length === 0) break;
      if (b) chunks.push(b);
      else if (Date.now() > deadline) {
        got.why ??= "the caller's stdout did not see EOF within 5 s of the run's end";
        break;
      } else await new Promise((r) => setTimeout(r, 10));
    }
    native.close(outR);
    got.stdout = Buffer.concat(chunks);
  } else got.stdout = readFileSync(out);
  got.stderr = readFileSync(err);
  return got;
}

/** Writes data into a pipe in pieces as the reader takes them (the loop keeps serving the run link), then closes it. */
async function stream(fd: number, data: Buffer): Promise<void> {
  native.setNonblocking(fd, true);
  let at = 0;
  while (at < data.length) {
    try {
      at += writeSync(fd, data, at, Math.min(4096, data.length - at));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") break;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  native.close(fd);
}

function compare(a: Outcome, d: Outcome, statusOnly = false): string | null {
  if (a.why) return a.why;
  if (a.code !== d.code || a.signal !== d.signal) return `status: coprocess ${a.signal ? `signal ${a.signal}` : `code ${a.code}`}, direct ${d.signal ? `signal ${d.signal}` : `code ${d.code}`}`;
  if (statusOnly) return null;
  if (!a.stdout.equals(d.stdout)) return `stdout differs: coprocess ${JSON.stringify(a.stdout.toString("latin1").slice(0, 300))}, direct ${JSON.stringify(d.stdout.toString("latin1").slice(0, 300))}`;
  if (!a.stderr.equals(d.stderr)) return `stderr differs: coprocess ${JSON.stringify(a.stderr.toString("latin1").slice(0, 300))}, direct ${JSON.stringify(d.stderr.toString("latin1").slice(0, 300))}`;
  return null;
}

export async function run(args: string[]): Promise<number> {
  let mode: Mode | null = null;
  const sep = args.indexOf("--");
  if (sep < 0 || sep === args.length - 1) throw new UsageError("usage: warm coprocess-check [--mode fork|serial] -- COMMAND [ARGS...]");
  for (let i = 0; i < sep; i++) {
    if (args[i] === "--mode" && (args[i + 1] === "fork" || args[i + 1] === "serial")) mode = args[++i] as Mode;
    else throw new UsageError(`unknown option ${args[i]}`);
  }
  // Started in "/" as the daemon starts it: the command and the files it names, made absolute.
  const given = args.slice(sep + 1);
  const found = given[0].includes("/") ? resolve(given[0]) : which(given[0], Object.entries(baseEnv()).map(([k, v]) => B(`${k}=${v}`)), process.cwd());
  if (!found) throw new UsageError(`${given[0]}: not found`);
  const command = [found, ...given.slice(1).map((w) => (!w.startsWith("-") && existsSync(w) ? resolve(w) : w))];
  const dir = mkdtempSync(join(tmpdir(), "warm-coprocess-check-"));
  const notes: string[] = [];
  const log = pino({ level: "warn" }, new Writable({ write: (line, _e, done) => { const o = JSON.parse(String(line)); notes.push(String(o.why ?? o.stderr ?? o.msg)); done(); } }));
  let failed = 0;
  const say = (name: string, why: string | null) => {
    if (why) failed++;
    process.stdout.write(why ? `FAIL ${name}: ${why}\n` : `ok   ${name}\n`);
  };
  const start = () => new Coprocess({ command, env: baseEnv(), mask: "---", mode, helloTimeoutMs: 15_000 }, log);
  let cop = start();
  try {
    const hello = await cop.ready;
    say(`hello: version ${COPROCESS_VERSION}, its own pid, a mode, watch and env lists`, hello ? null : `no valid hello (${notes.join("; ") || "it ended or said nothing"})`);
    if (!hello) return 1;
    process.stdout.write(`     mode ${hello.mode}; watch ${JSON.stringify(hello.watch)}; env ${JSON.stringify(hello.env)}\n`);
    const env = Object.fromEntries(hello.env.map((n) => [n, process.env[n] ?? ""]).filter(([, v]) => v !== ""));
    const cases: [string, Case, Parameters<typeof viaProtocol>[4]?][] = [
      ["argv: words with spaces", { args: [B("a b"), B("--flag"), B("ünï")] }],
      ["argv: empty strings", { args: [B(""), B("x"), B("")] }],
      ["argv: non-UTF-8 bytes", { args: [Buffer.from([0x78, 0xff, 0xfe, 0x79]), Buffer.from([0x80])] }],
      ["argv: none", { args: [] }],
      ["argv: large (5000 arguments)", { args: Array.from({ length: 5000 }, (_, i) => B(`argument-${i}`)) }],
      ["env: values with '=', empty values, the declared names", { args: [], env: { ...env, EX_A: "1=2", EX_EMPTY: "", EX_UNI: "ünï" } }],
      ["cwd: another directory", { args: [], cwd: dir }],
      ["umask: 077", { args: [], umask: 0o77 }],
      ["stdin: a file", { args: [B("--stdin")], stdin: B("line\n".repeat(1000)) }],
      ["stdin: streamed through a pipe", { args: [B("--stdin")], stdin: B("chunk ".repeat(50_000)) }, { stdinPipe: true }],
      ...[0, 1, 2, 100, 127, 128, 255].map((n): [string, Case] => [`exit code ${n} (EX_EXIT)`, { args: [], env: { EX_EXIT: String(n) } }]),
      ["death by a signal: TERM (EX_SIGNAL)", { args: [], env: { EX_SIGNAL: "15" } }],
      ["death by a signal: KILL (EX_SIGNAL)", { args: [], env: { EX_SIGNAL: "9" } }],
      ["a crash mid-run: SEGV (EX_SIGNAL), status only", { args: [], env: { EX_SIGNAL: "11" }, statusOnly: true }],
      ["fds closed: the caller's stdout sees EOF at the end", { args: [B("eof")] }, { checkEof: true }],
    ];
    for (const [name, c, opts] of cases) {
      const d = direct(command, c);
      say(name, compare(await viaProtocol(cop, command, c, dir, opts), d, c.statusOnly));
      await new Promise((r) => setImmediate(r));
      if (cop.state !== "ready" && cop.mode === "serial" && c.env?.EX_SIGNAL) {
        // A serial coprocess is the runner: a signal that ends the run ends it. The daemon starts another.
        cop = start();
        if (!(await cop.ready)) return say("a new serial coprocess after a death by a signal", "no hello"), 1;
      } else if (cop.state !== "ready") return say("the coprocess serves after each case", "it ended"), 1;
    }
    const skipped = await viaProtocol(cop, command, { args: [B("not-run")] }, dir, { callerGone: true });
    say("a caller gone before started: nothing runs", skipped.stdout.length || skipped.stderr.length || skipped.code !== 0 ? `it ran or failed: ${skipped.why ?? JSON.stringify(skipped.stdout.toString().slice(0, 100))}` : null);
    if (cop.mode === "serial") {
      // A serial coprocess whose caller went away before started exits: the daemon starts another.
      cop = start();
      if (!(await cop.ready)) return say("a new serial coprocess after a caller gone before started", "no hello"), 1;
    }
    if (cop.mode === "fork") {
      const both = await Promise.all([1, 2].map((i) => viaProtocol(cop, command, { args: [B(`concurrent-${i}`)] }, dir)));
      say("concurrent runs (fork mode)", both.map((o, i) => compare(o, direct(command, { args: [B(`concurrent-${i + 1}`)] }))).find((x) => x) ?? null);
    }
    await Promise.all(reaps);
    cop.stop();
    const ended = await cop.ended;
    say("shutdown: it exits when its link closes", ended.signal ? `it did not exit within 2 s (killed: signal ${ended.signal})` : ended.code === 0 ? null : `it exited with ${ended.code}${notes.length ? ` (it said: ${notes.slice(-3).join("; ").slice(0, 600)})` : ""}`);
  } finally {
    cop.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(failed ? `${failed} case(s) failed\n` : "every case passed\n");
  return failed ? 1 : 0;
}
