// `process.argv.slice(n)` while loading: TypeScript builds `ts.sys.args`
// this way at load. A module that keeps the slice is preloaded and sees the
// caller's arguments in every run (argv's length in the key); one that reads
// it while loading is keyed on it; one that changes it is not preloaded.
// Every run is compared with the direct one.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { savedRecord, writeTree } from "./helpers/tool-tree";
import { NODE, ROOT, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

const project = (name: string, files: Record<string, string>) => writeTree(join(w.work, name), files);

/** The ids and drops of the preload record that learned a module whose id contains `marker`. */
async function learned(marker: string): Promise<{ ids: string[]; dropped: Record<string, string> }> {
  const r = await savedRecord(w, marker);
  return { ids: r.modules.map(([, id]) => id), dropped: r.dropped };
}

/** Each argv in turn, `rounds` times: warm matches direct every time. */
async function alike(argvs: string[][], cwd: string, rounds: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (const argv of argvs) {
      const direct = w.run(argv, { direct: true, cwd });
      const warm = w.run(argv, { cwd });
      const what = `${argv.slice(1).join(" ")} (round ${round + 1})`;
      assert.equal(warm.stdout.toString(), direct.stdout.toString(), `stdout of ${what}`);
      assert.equal(warm.stderr.toString(), direct.stderr.toString(), `stderr of ${what}`);
      assert.equal(warm.status, direct.status, `status of ${what}`);
      await w.ready();
    }
  }
}

test("a module that keeps process.argv.slice(2) from its load is preloaded and sees each caller's arguments; one that reads it is keyed on it; one that changes it while loading is not preloaded", async () => {
  const dir = project("slices", {
    "node_modules/sl/package.json": '{ "name": "sl" }\n',
    "node_modules/sl/node_modules/keeps/index.js": "const sys = { args: process.argv.slice(2), all: process.argv.slice() };\nmodule.exports = () => sys;\n",
    "node_modules/sl/node_modules/reads/index.js": "const first = process.argv.slice(2)[0];\nmodule.exports = () => first;\n",
    "node_modules/sl/node_modules/pushes/index.js": 'const args = process.argv.slice(2);\nargs.push("--extra");\nmodule.exports = () => args;\n',
    "node_modules/sl/cli.js":
      '#!/usr/bin/env node\nconst sys = require("keeps")();\nconsole.log(JSON.stringify([sys.args, sys.all.slice(2), sys.args.length, require("reads")(), require("pushes")()]));\n',
  });
  const cli = "node_modules/sl/cli.js";
  await alike([[NODE, cli, "a", "b"], [NODE, cli, "c", "d"], [NODE, cli, "e"], [NODE, cli, "f", "g"]], dir, 3);
  const { ids, dropped } = await learned("/keeps/index.js");
  const at = (name: string) => ids.find((id) => id.endsWith(`/${name}/index.js`))!;
  assert.equal(dropped[at("keeps")], undefined, "the module that keeps the slice is preloaded");
  assert.equal(dropped[at("reads")], undefined, "the module that reads the slice is preloaded too (the slice joins its key)");
  assert.equal(dropped[at("pushes")], "changed a slice of process.argv while loading");
});

test("TypeScript's API (typescript.js builds ts.sys.args from a slice of argv at load) is preloaded, and every run sees its own arguments", async () => {
  // A tool using the compiler in-process, as ts-node and typescript-eslint do.
  const dir = project("ts-api", {
    "node_modules/tsx-like/package.json": '{ "name": "tsx-like" }\n',
    "node_modules/tsx-like/cli.js":
      `#!/usr/bin/env node\nconst ts = require(${JSON.stringify(join(ROOT, "node_modules", "typescript"))});\n` +
      'const [file] = ts.sys.args;\nconst src = ts.sys.readFile(file);\nconst out = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS }, reportDiagnostics: true, fileName: file });\n' +
      'console.log(JSON.stringify(ts.sys.args));\nprocess.stdout.write(out.outputText);\nfor (const d of out.diagnostics ?? []) console.error(ts.flattenDiagnosticMessageText(d.messageText, "\\n"));\nprocess.exitCode = out.diagnostics?.length ? 1 : 0;\n',
    "a.ts": "export const n: number = 1;\n",
    "b.ts": "export const s = (x: string): string => x + '!';\n",
    "bad.ts": "export const = ;\n",
  });
  const cli = "node_modules/tsx-like/cli.js";
  await alike([[NODE, cli, "a.ts"], [NODE, cli, "b.ts"], [NODE, cli, "bad.ts"]], dir, 3);
  const { ids, dropped } = await learned("/typescript/lib/typescript.js");
  const compiler = ids.find((id) => id.endsWith("/typescript/lib/typescript.js"))!;
  assert.equal(dropped[compiler], undefined, "typescript.js is preloaded");
  const pool = w.status()!.pools.find((p) => p.script.endsWith("/tsx-like/cli.js"))!;
  assert.ok(pool.hits >= 5, `later runs were served warm: ${pool.hits} hits`);
});
