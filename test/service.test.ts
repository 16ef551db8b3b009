// warm service install/uninstall where systemd is absent (files written, with
// a note), and the daemon under socket activation as the unit runs it:
// systemd-socket-activate passes the socket, the test's own NOTIFY_SOCKET
// gets READY=1 once the first connection starts the daemon, and the shim's
// runs go warm through the passed socket.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CliEnv } from "./helpers/cli-env";
import { alive, fixture, NODE, ROOT } from "./helpers/warm-env";

const ACTIVATE = "/usr/bin/systemd-socket-activate";
let w: CliEnv;
let activated: ChildProcess | null = null;
before(() => {
  w = new CliEnv();
});
after(async () => {
  await w.stop();
  if (activated?.pid && alive(activated.pid)) activated.kill("SIGKILL");
});

const unitDir = () => join(w.dir, "config", "systemd", "user");

/** ExecStart's words and Environment= assignments, unquoted as systemd does for these simple values. */
function serviceCommand(text: string): { argv: string[]; env: Record<string, string> } {
  const unquote = (s: string) => JSON.parse(s.replace(/%%/g, "%").replace(/\$\$/g, "$")) as string;
  const exec = /^ExecStart=(.*)$/m.exec(text)![1];
  const argv = exec.match(/"(?:[^"\\]|\\.)*"/g)!.map(unquote);
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/^Environment=(".*")$/gm)) {
    const [k, ...v] = unquote(m[1]).split("=");
    env[k] = v.join("=");
  }
  return { argv, env };
}

test("service install without systemd writes both units, with a note", () => {
  const r = w.run(["service", "install"]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.match(r.stdout.toString(), /note: systemd is not running here/);
  const socket = readFileSync(join(unitDir(), "warm.socket"), "utf8");
  const service = readFileSync(join(unitDir(), "warm.service"), "utf8");
  assert.match(socket, new RegExp(`^ListenStream=${join(w.runtimeDir, "daemon.sock")}$`, "m"));
  assert.match(socket, /^SocketMode=0600$/m);
  assert.match(service, /^Type=notify$/m);
  const { argv, env } = serviceCommand(service);
  assert.equal(argv[0], NODE);
  // The daemon of the installed shim, which stays where it is when a checkout moves.
  assert.equal(argv[1], join(w.data, "warm", "daemon", "dist", "main.js"));
  assert.equal(realpathSync(argv[1]), join(ROOT, "daemon", "dist", "main.js"));
  assert.equal(env.XDG_RUNTIME_DIR, w.env.XDG_RUNTIME_DIR);
});

test("the daemon takes the socket systemd passes and reports READY=1 on NOTIFY_SOCKET", async (t) => {
  if (!existsSync(ACTIVATE)) return t.skip(`${ACTIVATE} is not installed (Debian's systemd package)`);
  const dgram = require("unix-dgram") as { createSocket(t: string): { bind(p: string): void; on(e: string, f: (b: Buffer) => void): void; close(): void } };
  const notifyPath = join(w.dir, "notify");
  const notify = dgram.createSocket("unix_dgram");
  const messages: string[] = [];
  notify.on("message", (b) => messages.push(b.toString()));
  notify.bind(notifyPath);
  try {
    const { argv, env } = serviceCommand(readFileSync(join(unitDir(), "warm.service"), "utf8"));
    const sock = join(w.runtimeDir, "daemon.sock");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(w.runtimeDir, { mode: 0o700 }); // systemd makes it (DirectoryMode=0700)
    const sets = Object.entries({ ...env, NOTIFY_SOCKET: notifyPath, WATCHDOG_USEC: "200000" }).flatMap(([k, v]) => ["-E", `${k}=${v}`]);
    activated = spawn(ACTIVATE, ["-l", sock, ...sets, ...argv], { env: w.env, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    activated.stderr?.on("data", (d) => (err += d));
    await w.until(() => `systemd-socket-activate listening; stderr ${err}`, () => err.includes("Listening on"));

    // The first connection starts the daemon (the activated process itself), and the run goes warm through the passed socket.
    const direct = w.run([NODE, fixture("shebang-tool"), "x"], { direct: true });
    const r = w.run([NODE, fixture("shebang-tool"), "x"]);
    assert.equal(r.stdout.toString(), direct.stdout.toString());
    const status = w.status();
    assert.equal(status?.pid, activated.pid);
    assert.equal(status?.runs, 1);

    await w.until(() => `READY=1 on ${notifyPath}; got ${JSON.stringify(messages)}; stderr ${err}`, () => messages.some((m) => /^READY=1$/m.test(m)));
    const ready = messages.find((m) => /^READY=1$/m.test(m))!;
    assert.match(ready, new RegExp(`^MAINPID=${activated.pid}$`, "m"), "the daemon runs as the activated process");
    assert.match(ready, /^STATUS=warm \S+: 0 runs warm/m);
    await w.until("a watchdog ping", () => messages.some((m) => /^WATCHDOG=1$/m.test(m)));

    const exited = new Promise((resolve) => activated!.once("exit", resolve));
    assert.equal(w.run(["stop"]).status, 0);
    await exited;
    assert.ok(messages.some((m) => m === "STOPPING=1"));
    // The socket is systemd's: the daemon leaves it for the next activation.
    assert.ok(existsSync(sock));
  } finally {
    notify.close();
  }
});

test("service uninstall removes both units, with a note", () => {
  const r = w.run(["service", "uninstall"]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.match(r.stdout.toString(), /note: systemd is not running here/);
  assert.ok(!existsSync(join(unitDir(), "warm.socket")));
  assert.ok(!existsSync(join(unitDir(), "warm.service")));
  assert.equal(w.run(["service", "restart"]).status, 2);
});
