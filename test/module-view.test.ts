// What a preloaded module sees of the module system is what it sees in a
// direct run: its parent (the entry, when the entry required it), the module
// cache (no module of warm's, the order of loading), and, since a stack taken
// while it loads cannot name the entry's frames, such a module is not
// preloaded. Each case runs directly, then warm until the module is
// preloaded, every run compared byte for byte.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { savedRecord, writeTree } from "./helpers/tool-tree";
import { NODE, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

/** A tool under node_modules (so installed code, preloadable): `files` relative to the project. */
const project = (name: string, files: Record<string, string>) => writeTree(join(w.work, name), files);
const record = (marker: string) => savedRecord(w, marker);

/** Runs `args` directly, then warm `runs` times; every warm run must match the direct one. */
async function same(args: string[], cwd: string, runs = 5): Promise<string> {
  const direct = w.run(args, { direct: true, cwd });
  assert.equal(direct.status, 0, direct.stderr.toString());
  for (let i = 0; i < runs; i++) {
    const warm = w.run(args, { cwd });
    assert.equal(warm.stdout.toString(), direct.stdout.toString(), `stdout of warm run ${i + 1}`);
    assert.equal(warm.stderr.toString(), direct.stderr.toString(), `stderr of warm run ${i + 1}`);
    assert.equal(warm.status, direct.status);
    await w.ready();
  }
  return direct.stdout.toString();
}

test("module.parent of a preloaded module the entry requires is the entry's module, as directly", async () => {
  const dir = project("parent", {
    "node_modules/mp/package.json": '{ "name": "mp" }\n',
    "node_modules/mp/node_modules/who/index.js":
      "const p = module.parent;\n" +
      "const atLoad = { id: p.id, loaded: p.loaded, isMain: p === require.main };\n" +
      "module.exports = () => ({ atLoad, parentIsMain: p === require.main, id: p.id, loaded: p.loaded, exportsSame: p.exports === require.main.exports, exportKeys: Object.keys(p.exports), filename: p.filename });\n",
    "node_modules/mp/cli.js": '#!/usr/bin/env node\nexports.name = "mp-cli";\nconst who = require("who");\nsetImmediate(() => console.log(JSON.stringify(who())));\n',
  });
  const out = await same([NODE, "node_modules/mp/cli.js"], dir);
  assert.match(out, /"parentIsMain":true,.*"id":".","loaded":true,"exportsSame":true,"exportKeys":\["name"\]/);
  const r = await record("/who/index.js");
  assert.ok(r && r.modules.some(([, id]) => id.endsWith("/who/index.js")), "who was learned");
  assert.equal(r.dropped[r.modules.find(([, id]) => id.endsWith("/who/index.js"))![1]], undefined, "and is preloaded, not dropped");
});

test("require.cache holds the run's modules in the order a direct run loaded them, and no module of warm's", async () => {
  const dir = project("cache", {
    "node_modules/mc/package.json": '{ "name": "mc" }\n',
    "node_modules/mc/node_modules/one/index.js": 'module.exports = require("two");\n',
    "node_modules/mc/node_modules/two/index.js": "module.exports = 2;\n",
    "node_modules/mc/cli.js": '#!/usr/bin/env node\nrequire("one");\nsetImmediate(() => console.log(JSON.stringify(Object.keys(require.cache).map((id) => id.replace(__dirname, "")))));\n',
  });
  await same([NODE, "node_modules/mc/cli.js"], dir);
  const r = await record("/one/index.js");
  assert.ok(r && r.dropped[r.modules.find(([, id]) => id.endsWith("/one/index.js"))![1]] === undefined, "one is preloaded");
});

test("a module that reads a stack while loading (to find its requirer) sees the direct run's stack: it is not preloaded", async () => {
  const dir = project("stack", {
    "node_modules/ms/package.json": '{ "name": "ms" }\n',
    "node_modules/ms/node_modules/caller/index.js":
      "const old = Error.prepareStackTrace;\nError.prepareStackTrace = (_, sites) => sites;\nconst sites = new Error().stack;\nError.prepareStackTrace = old;\n" +
      "const requirer = sites.map((s) => s.getFileName()).filter((f) => f && !f.startsWith('node:'));\nmodule.exports = () => requirer;\n",
    "node_modules/ms/node_modules/who/index.js":
      'const stack = new Error("x").stack.split("\\n").slice(1).map((s) => s.trim().replace(/:\\d+:\\d+\\)?$/, ""));\nmodule.exports = () => stack;\n',
    "node_modules/ms/node_modules/plain/index.js": "module.exports = 1;\n",
    "node_modules/ms/cli.js":
      '#!/usr/bin/env node\nrequire("plain");\nconst caller = require("caller");\nconst who = require("who");\nconsole.log(JSON.stringify({ caller: caller(), who: who(), prepare: typeof Error.prepareStackTrace }));\n',
  });
  const out = await same([NODE, "node_modules/ms/cli.js"], dir);
  assert.match(out, /cli\.js/);
  const r = await record("/plain/index.js");
  assert.ok(r, "the tool was learned");
  const dropped = Object.entries(r.dropped).map(([id, why]) => [id.replace(dir, ""), why]).sort();
  assert.deepEqual(dropped, [
    ["/node_modules/ms/node_modules/caller/index.js", "read a stack trace while loading (its frames would be warm's, not the requiring module's)"],
    ["/node_modules/ms/node_modules/who/index.js", "read a stack trace while loading (its frames would be warm's, not the requiring module's)"],
  ]);
  assert.ok(r.modules.some(([, id]) => id.endsWith("/plain/index.js")) && !r.dropped[join(dir, "node_modules/ms/node_modules/plain/index.js")], "plain is preloaded");
});

test("a preloaded module that runs code as require.main (CoffeeScript's run) sets, deletes and compiles on the real main module, as directly", async () => {
  const dir = project("runner", {
    "node_modules/mr/package.json": '{ "name": "mr" }\n',
    "node_modules/mr/node_modules/runner/index.js":
      'const Module = require("module");\nconst { dirname } = require("path");\n' +
      "exports.run = (file) => {\n" +
      "  const m = require.main;\n" +
      "  m.filename = process.argv[1] = file;\n" +
      "  m.paths = Module._nodeModulePaths(dirname(file));\n" +
      "  m.options = { bare: true };\n" +
      '  const seen = { isModule: m instanceof Module, proto: Object.getPrototypeOf(m) === Module.prototype, keys: Object.keys(m).sort(), has: "options" in m, desc: Object.getOwnPropertyDescriptor(m, "filename").value === file };\n' +
      "  delete m.options;\n" +
      '  seen.deleted = !("options" in m);\n' +
      "  m._compile(\"console.log('compiled', module === require.main, require('path').basename(module.filename))\", file);\n" +
      "  return seen;\n" +
      "};\n",
    "node_modules/mr/cli.js":
      '#!/usr/bin/env node\nconst seen = require("runner").run(require("path").join(__dirname, "script.coffee"));\n' +
      'console.log(JSON.stringify(seen), require("path").basename(require.main.filename), require.main.options);\n',
  });
  const out = await same([NODE, "node_modules/mr/cli.js"], dir);
  assert.match(out, /^compiled true script\.coffee\n\{"isModule":true,"proto":true,.*"has":true,"desc":true,"deleted":true\} script\.coffee undefined\n$/);
  const r = await record("/runner/index.js");
  assert.equal(r.dropped[r.modules.find(([, id]) => id.endsWith("/runner/index.js"))![1]], undefined, "runner is preloaded, not dropped");
});

test("process.stdout kept by a preloaded module is the caller's stream in a run: its class, keys and descriptors too", async () => {
  const dir = project("kept-out", {
    "node_modules/ko/package.json": '{ "name": "ko" }\n',
    "node_modules/ko/node_modules/keeper/index.js":
      "const out = process.stdout;\n" +
      'const { Writable } = require("stream");\n' +
      "exports.show = () => {\n" +
      "  const seen = { writable: out instanceof Writable, proto: Object.getPrototypeOf(out) === Object.getPrototypeOf(process.stdout), keys: Object.keys(out).join() === Object.keys(process.stdout).join(), state: typeof Object.getOwnPropertyDescriptor(out, \"_writableState\") };\n" +
      '  out.write(JSON.stringify(seen) + "\\n");\n' +
      "};\n",
    "node_modules/ko/cli.js": '#!/usr/bin/env node\nrequire("keeper").show();\n',
  });
  const out = await same([NODE, "node_modules/ko/cli.js"], dir);
  assert.equal(out, '{"writable":true,"proto":true,"keys":true,"state":"object"}\n');
  const r = await record("/keeper/index.js");
  assert.equal(r.dropped[r.modules.find(([, id]) => id.endsWith("/keeper/index.js"))![1]], undefined, "keeper is preloaded, not dropped");
});
