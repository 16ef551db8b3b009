// warm link / unlink / links, and help, through the real shim: links point at
// the installed shim copy, run their tool warm with the same output as a
// direct run, and bad names or colliding files are refused, nothing overwritten.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CliEnv } from "./helpers/cli-env";
import { ROOT, WARM } from "./helpers/warm-env";

let w: CliEnv;
before(() => {
  w = new CliEnv();
});
after(async () => {
  await w.stop();
});

test("warm link installs the shim and links Node and Python CLIs to it", () => {
  const r = w.run(["link", "mytool", "pytool", "node"]);
  assert.equal(r.status, 0, r.stderr.toString());
  const shim = join(w.data, "warm", "libexec", "warm");
  for (const name of ["mytool", "pytool", "node", "warm"]) assert.equal(readlinkSync(join(w.bin, name)), shim);
  // The installed shim is a copy, and finds the daemon through <data>/warm/daemon.
  assert.ok(!readlinkSync(join(w.bin, "mytool")).startsWith(ROOT));
  assert.deepEqual(readFileSync(shim), readFileSync(join(ROOT, "bin", "warm")));
  assert.equal(realpathSync(join(w.data, "warm", "daemon")), join(ROOT, "daemon"));
  assert.match(r.stderr.toString(), /is not on PATH: add eval "\$\(warm shell-init bash\)"/);
});

test("a linked Node CLI and Python CLI run warm, with the direct run's output", () => {
  for (const [tool, args] of [["mytool", ["a", "b c"]], ["pytool", ["out", "hello"]]] as const) {
    // The direct run names the tool's own file, as the PATH lookup would. pytool prints its env, so it
    // gets the same PATH (its #! is absolute); mytool's `#!/usr/bin/env node` must not find the node link.
    const direct = w.run([join(w.tools, tool), ...args], { direct: true, env: tool === "pytool" ? w.linkedEnv : w.env });
    const before = w.warmRuns();
    const linked = w.run([join(w.bin, tool), ...args], { direct: true, env: w.linkedEnv });
    assert.equal(linked.status, direct.status);
    assert.equal(linked.stdout.toString(), direct.stdout.toString());
    assert.equal(linked.stderr.toString(), direct.stderr.toString());
    assert.equal(w.warmRuns(), before + 1, `${tool} ran warm`);
  }
});

test("warm links lists each link, what it runs and whether warm", () => {
  const r = w.run(["links"]);
  assert.equal(r.status, 0);
  const out = r.stdout.toString();
  assert.match(out, new RegExp(`^mytool\\t${join(w.tools, "mytool")}\\twarm: a Node CLI`, "m"));
  assert.match(out, new RegExp(`^pytool\\t${join(w.tools, "pytool")}\\twarm: a Python CLI`, "m"));
  assert.match(out, /^node\t\/usr\/bin\/node\twarm: a Node CLI/m);
  assert.doesNotMatch(out, /^warm\t/m);
});

test("names that do not run a Node or Python CLI are refused with the reason", () => {
  const r = w.run(["link", "ls", "nosuch", "a/b", "warm"]);
  assert.equal(r.status, 1);
  const err = r.stderr.toString();
  assert.match(err, /ls: refused: not a program warm runs warm: \/usr\/bin\/ls/);
  assert.match(err, /nosuch: refused: nosuch: not found on PATH/);
  assert.match(err, /a\/b: refused: "a\/b" is not a command name/);
  assert.match(err, /warm: refused: "warm" is warm itself/);
  for (const name of ["ls", "nosuch"]) assert.ok(!existsSync(join(w.bin, name)));
});

test("a configured coprocess may be linked even when it is no Node or Python CLI", () => {
  w.writeConfig({ tools: { lister: { coprocess: {} } } });
  try {
    const r = w.run(["link", "lister"]);
    assert.equal(r.status, 0, r.stderr.toString());
    assert.match(r.stdout.toString(), /lister.*a coprocess in the config/);
  } finally {
    w.run(["unlink", "lister"]);
    w.writeConfig({});
  }
});

test("a file in the links dir that is not warm's is never overwritten or removed", () => {
  const path = join(w.bin, "mytool2");
  writeFileSync(path, "mine\n");
  writeFileSync(join(w.tools, "mytool2"), readFileSync(join(w.tools, "mytool")), { mode: 0o755 });
  const r = w.run(["link", "mytool2"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr.toString(), /mytool2: refused: .*mytool2 exists and is not a link of warm's; nothing overwritten/);
  assert.equal(readFileSync(path, "utf8"), "mine\n");
  const u = w.run(["unlink", "mytool2"]);
  assert.equal(u.status, 1);
  assert.match(u.stderr.toString(), /is not a link of warm's; left alone/);
  assert.equal(readFileSync(path, "utf8"), "mine\n");
  assert.match(w.run(["links"]).stdout.toString(), /^mytool2\t-\tnot warm's/m);
});

test("warm unlink removes the link; the tool then runs directly", () => {
  const r = w.run(["unlink", "pytool"]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.ok(!existsSync(join(w.bin, "pytool")));
  assert.equal(w.run(["unlink", "pytool"]).status, 1);
  assert.equal(w.run(["unlink"]).status, 2);
});

test("--help lists every word, and warm help WORD gives its manual", () => {
  const usage = w.run(["--help"]).stdout.toString();
  for (const word of ["status", "stop", "link", "unlink", "links", "shell-init", "exec", "service", "logs", "doctor", "help"]) {
    assert.match(usage, new RegExp(`warm ${word}\\b`), word);
    const r = w.run(["help", word]);
    assert.equal(r.status, 0, word);
    assert.match(r.stdout.toString(), new RegExp(`^NAME\\n    warm ${word} - .*\\n\\nSYNOPSIS\\n    warm ${word}`, "m"), word);
  }
  const bad = w.run(["help", "nosuch"]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr.toString(), /no word nosuch/);
});

test("links outlive the checkout they were made from: its tools run directly, doctor says why, warm link mends it", () => {
  // A checkout of its own (shim, daemon files, package.json; node_modules shared), then moved away.
  const checkout = join(w.dir, "checkout");
  mkdirSync(join(checkout, "bin"), { recursive: true });
  copyFileSync(join(ROOT, "bin", "warm"), join(checkout, "bin", "warm"));
  chmodSync(join(checkout, "bin", "warm"), 0o755);
  cpSync(join(ROOT, "daemon"), join(checkout, "daemon"), { recursive: true });
  copyFileSync(join(ROOT, "package.json"), join(checkout, "package.json"));
  symlinkSync(join(ROOT, "node_modules"), join(checkout, "node_modules"));
  const env = { ...w.linkedEnv, XDG_RUNTIME_DIR: join(w.dir, "run-moved") };
  mkdirSync(env.XDG_RUNTIME_DIR, { mode: 0o700 });
  try {
    movedCheckout(checkout, env);
  } finally {
    spawnSync(WARM, ["stop"], { env });
  }
});

function movedCheckout(checkout: string, env: NodeJS.ProcessEnv): void {
  const made = spawnSync(join(checkout, "bin", "warm"), ["link", "mytool"], { env, encoding: "utf8" });
  assert.equal(made.status, 0, made.stderr);
  assert.equal(realpathSync(join(w.data, "warm", "daemon")), join(checkout, "daemon"));
  renameSync(checkout, `${checkout}-moved`);
  rmSync(`${checkout}-moved`, { recursive: true });

  // Without warm's links on PATH: `#!/usr/bin/env node` would find the node link.
  const direct = w.run([join(w.tools, "mytool"), "m"], { direct: true, env: { ...env, PATH: w.env.PATH } });
  const linked = w.run([join(w.bin, "mytool"), "m"], { direct: true, env });
  assert.equal(linked.status, 0);
  assert.equal(linked.stdout.toString(), direct.stdout.toString());
  assert.equal(linked.stderr.toString(), "");
  const doctor = w.run(["doctor"], { env });
  assert.equal(doctor.status, 1);
  assert.match(doctor.stdout.toString(), /^PROBLEM the installed shim's daemon files \(.*\) are gone \(a moved or removed checkout\): linked tools run directly\n {8}fix: run warm link from warm's checkout$/m);

  assert.equal(w.run(["link"], { env }).status, 0);
  assert.equal(realpathSync(join(w.data, "warm", "daemon")), join(ROOT, "daemon"));
  const runs = () => (JSON.parse(spawnSync(WARM, ["status", "--json"], { env, encoding: "utf8" }).stdout || '{"runs":0}') as { runs: number }).runs;
  const before = runs();
  const again = w.run([join(w.bin, "mytool"), "m"], { direct: true, env });
  assert.equal(again.stdout.toString(), direct.stdout.toString());
  assert.equal(runs(), before + 1, "ran warm again");
}
