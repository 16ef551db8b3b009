// warm doctor through the real shim: exit 0 on a good setup, and each
// mistake a user can make found, with its fix, and exit 1.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CliEnv } from "./helpers/cli-env";
import { NODE, ROOT, WARM } from "./helpers/warm-env";

let w: CliEnv;
before(() => {
  w = new CliEnv();
  assert.equal(w.run(["link", "mytool"]).status, 0);
});
after(async () => {
  await w.stop();
});

function doctor(env: NodeJS.ProcessEnv = w.linkedEnv): { status: number | null; out: string } {
  const r = w.run(["doctor"], { env });
  return { status: r.status, out: r.stdout.toString() };
}

test("a good setup: all is well, exit 0", () => {
  w.writeConfig({ tools: { mytool: { pool: { size: 1 } } } });
  assert.equal(w.run(["mytool"], { env: w.linkedEnv }).status, 0); // a daemon of this version runs
  const r = doctor();
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /^ok {6}node v\d+/m);
  assert.match(r.out, /^ok {6}python3 3\.\d+ \(\/usr\/bin\/python3\)$/m);
  assert.match(r.out, /^ok {6}warm's addon loads$/m);
  assert.match(r.out, /^ok {6}socket directory .* is yours, mode 700$/m);
  assert.match(r.out, /^ok {6}config .* parses$/m);
  assert.match(r.out, new RegExp(`^ok {6}${w.bin} is on PATH, first for its 1 links$`, "m"));
  assert.match(r.out, /^ok {6}daemon pid \d+, warm /m);
  assert.match(r.out, /^all is well$/m);
});

test("PATH without the links dir: said, with the fix", () => {
  const r = doctor(w.env);
  assert.equal(r.status, 1);
  assert.match(r.out, /^PROBLEM PATH does not include warm's links directory .*: mytool run directly\n {8}fix: add eval "\$\(warm shell-init bash\)"/m);
});

test("links dir after the real tool's dir on PATH: said", () => {
  const r = doctor({ ...w.env, PATH: `${w.tools}:${w.bin}:/usr/bin:/bin` });
  assert.equal(r.status, 1);
  assert.match(r.out, /^PROBLEM .* is on PATH after the real mytool, which then run directly\n {8}fix: put it first/m);
});

test("a config that does not parse, and a configured tool that is not found", () => {
  w.writeConfig({ tools: { "no-such-tool": {} } });
  let r = doctor();
  assert.equal(r.status, 1);
  assert.match(r.out, /^PROBLEM tools\.no-such-tool is configured but no-such-tool is not found on PATH\n {8}fix: install no-such-tool, or remove tools\.no-such-tool/m);
  w.writeConfig({ idleTimeoutMinutes: "soon" });
  r = doctor();
  assert.equal(r.status, 1);
  assert.match(r.out, /^PROBLEM the config does not parse: .*config\.json: .*idleTimeoutMinutes/m);
  w.writeConfig({});
});

test("a socket directory others may enter", () => {
  mkdirSync(w.runtimeDir, { recursive: true });
  chmodSync(w.runtimeDir, 0o755);
  try {
    const r = doctor();
    assert.equal(r.status, 1);
    assert.match(r.out, new RegExp(`^PROBLEM ${w.runtimeDir} has mode 755: others may enter, so warm runs every tool directly\\n {8}fix: chmod 700 ${w.runtimeDir}$`, "m"));
  } finally {
    chmodSync(w.runtimeDir, 0o700);
  }
});

test("a link on PATH whose shim is missing", () => {
  const stale = join(w.dir, "stale-bin");
  mkdirSync(stale);
  symlinkSync(join(w.dir, "gone", "libexec", "warm"), join(stale, "oldtool"));
  const r = doctor({ ...w.linkedEnv, PATH: `${w.linkedEnv.PATH}:${stale}` });
  assert.equal(r.status, 1);
  assert.match(r.out, new RegExp(`^PROBLEM ${join(stale, "oldtool")} points at a missing shim\\n {8}fix: run warm link oldtool`, "m"));
});

test("a link whose tool is gone: said, with the fix", () => {
  const tool = join(w.tools, "gonetool");
  writeFileSync(tool, "#!/usr/bin/env node\nconsole.log('here');\n", { mode: 0o755 });
  assert.equal(w.run(["link", "gonetool"]).status, 0);
  try {
    assert.doesNotMatch(doctor().out, /gonetool/);
    rmSync(tool);
    const r = doctor();
    assert.equal(r.status, 1);
    assert.match(r.out, /^PROBLEM gonetool is linked, but no gonetool is found on PATH past warm's links \(removed, or its directory left PATH\)\n {8}fix: reinstall it, or warm unlink gonetool$/m);
  } finally {
    assert.equal(w.run(["unlink", "gonetool"]).status, 0);
  }
  assert.doesNotMatch(doctor().out, /gonetool/);
});

test("a running daemon of another version", async () => {
  // A real daemon whose package.json says another version: this checkout's files
  // reached through symlinks that node keeps (--preserve-symlinks), beside another package.json.
  const other = join(w.dir, "other");
  mkdirSync(join(other, "daemon"), { recursive: true });
  writeFileSync(join(other, "package.json"), JSON.stringify({ version: "9.9.9-other" }));
  for (const part of ["daemon/dist", "daemon/addon", "daemon/python", "node_modules"]) symlinkSync(join(ROOT, part), join(other, part));
  spawnSync(WARM, ["stop"], { env: w.env });
  const daemon = spawn(NODE, ["--preserve-symlinks", "--preserve-symlinks-main", join(other, "daemon", "dist", "main.js")], { env: w.env, stdio: "ignore", detached: true });
  try {
    await w.until("the other daemon to answer", () => w.status()?.version === "9.9.9-other");
    const r = doctor();
    assert.equal(r.status, 1);
    assert.match(r.out, new RegExp(`^PROBLEM a daemon of warm 9\\.9\\.9-other \\(pid ${daemon.pid}\\) is running; this is warm \\S+\\n {8}fix: warm stop`, "m"));
  } finally {
    const gone = new Promise((resolve) => daemon.once("exit", resolve));
    spawnSync(WARM, ["stop"], { env: w.env });
    await gone;
  }
});
