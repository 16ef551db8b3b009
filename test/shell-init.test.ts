// warm shell-init in the real shells (Debian's bash, zsh, fish): the printed
// code runs no process (it works with no command on PATH), puts the links
// dir first on PATH and completes warm's words; a linked tool started from
// the shell then runs warm.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CliEnv } from "./helpers/cli-env";
import { WARM } from "./helpers/warm-env";

let w: CliEnv;
before(() => {
  w = new CliEnv();
  assert.equal(w.run(["link", "mytool"]).status, 0);
});
after(async () => {
  await w.stop();
});

const SHELLS = {
  bash: { exe: "/usr/bin/bash", flags: ["--norc", "--noprofile", "-c"], source: `eval "$('${WARM}' shell-init bash)"`, complete: `COMP_WORDS=(warm sh); COMP_CWORD=1; _warm_complete; echo "\${COMPREPLY[@]}"` },
  zsh: { exe: "/usr/bin/zsh", flags: ["-f", "-c"], source: `eval "$('${WARM}' shell-init zsh)"`, complete: "compctl -L warm" },
  fish: { exe: "/usr/bin/fish", flags: ["--no-config", "-c"], source: `'${WARM}' shell-init fish | source`, complete: `complete -C'warm sh'` },
};

function shell(exe: string, flags: string[], script: string, env: NodeJS.ProcessEnv) {
  const r = spawnSync(exe, [...flags, script], { env, cwd: w.work, encoding: "utf8", timeout: 30_000 });
  if (r.error) throw r.error;
  return r;
}

for (const [name, sh] of Object.entries(SHELLS)) {
  test(`${name}: the snippet runs no process, puts the links first on PATH and completes warm's words`, (t) => {
    if (!existsSync(sh.exe)) return t.skip(`${sh.exe} is not installed (.ci/run installs it)`);
    const snippet = w.run(["shell-init", name]);
    assert.equal(snippet.status, 0);
    // With nothing on PATH, any command the snippet ran would fail: none may.
    const r = shell(sh.exe, sh.flags, `${snippet.stdout}\necho "$PATH"\n${sh.complete}`, { HOME: w.dir, PATH: "/nonexistent" });
    assert.equal(r.stderr, "");
    assert.equal(r.status, 0);
    const [path, ...completion] = r.stdout.split("\n");
    assert.equal(path.split(":")[0], w.bin);
    assert.match(completion.join("\n"), /shell-init/);
  });

  test(`${name}: a linked tool started from the shell runs warm, as directly`, (t) => {
    if (!existsSync(sh.exe)) return t.skip(`${sh.exe} is not installed (.ci/run installs it)`);
    const before = w.warmRuns();
    const r = shell(sh.exe, sh.flags, `${sh.source}; mytool from ${name}`, w.env);
    assert.equal(r.stderr, "");
    assert.equal(r.status, 0);
    const direct = w.run([join(w.tools, "mytool"), "from", name], { direct: true, env: w.linkedEnv });
    assert.equal(r.stdout, direct.stdout.toString());
    assert.equal(w.warmRuns(), before + 1);
  });
}

test("an unknown shell is refused", () => {
  const r = w.run(["shell-init", "tcsh"]);
  assert.equal(r.status, 2);
  assert.match(r.stderr.toString(), /unknown shell "tcsh": warm shell-init bash\|zsh\|fish/);
  assert.equal(r.stdout.length, 0);
  assert.equal(w.run(["shell-init"]).status, 2);
});
