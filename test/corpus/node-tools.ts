// The corpus's npm tools (pinned in package.json's devDependencies), each
// with a small project and commands users type, errors included.
import type { Normalise, Tool } from "./types";

const ms = (why: string): Normalise => ({ re: /\d+(\.\d+)?\s?(ms|s)\b/g, to: "<time>", why });

// npm's progress spinner, drawn on a timer at a terminal: how many frames show depends on how long the run took.
const spinner: Normalise = { re: /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\x1b\[1G\x1b\[0K/g, to: "", why: "npm's spinner frames (drawn on a timer)" };

const badJs = "const unused = 1\nfunction f(a) { return a == null ? 0 : a }\nconsole.log(f(2))\n";
/** An entry importing a module: the project of each bundler. */
const bundleSrc = { "src/index.js": 'import { two } from "./two.js";\nconsole.log(two());\n', "src/two.js": "export const two = () => 2;\n" };
const okJs = "export function add(a, b) {\n  return a + b;\n}\n";
const ugly = "const  x = {a:1,\n b:2}\nfunction   g( ) {return x.a+x.b}\nconsole.log( g() )\n";

/** Linters and formatters (one test file). */
export const nodeLintTools: Tool[] = [
  {
    tool: "eslint",
    from: "npm eslint",
    runtime: "node",
    files: {
      "eslint.config.mjs": 'export default [{ rules: { "no-unused-vars": "error", eqeqeq: "error", semi: ["error", "always"] } }];\n',
      "ok.js": okJs,
      "bad.js": badJs,
    },
    cases: [
      { name: "a clean file", argv: ["eslint", "ok.js"] },
      { name: "lint errors (exit 1)", argv: ["eslint", "bad.js"] },
      { name: "--fix writes the file", argv: ["eslint", "--fix", "bad.js"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "prettier",
    from: "npm prettier",
    runtime: "node",
    files: { "a.js": ugly, "ok.js": okJs },
    cases: [
      { name: "--version", argv: ["prettier", "--version"] },
      { name: "--check, unformatted (exit 1)", argv: ["prettier", "--check", "a.js", "ok.js"] },
      { name: "--write", argv: ["prettier", "--write", "a.js"], normalise: [ms("prettier --write's time per file: 'a.js 43ms'")] },
    ],
    expect: { warm: true },
  },
  {
    // Each run rewrites ESLint's cache file in ~/.cache/standard, which its
    // warm process read while loading (corpus-findings T11).
    tool: "standard",
    from: "npm standard",
    runtime: "node",
    files: { "ok.js": "export function add (a, b) {\n  return a + b\n}\n", "bad.js": badJs },
    cases: [
      { name: "a clean file", argv: ["standard", "ok.js"] },
      { name: "lint errors (exit 1)", argv: ["standard", "bad.js"] },
    ],
    expect: { warm: true },
  },
  {
    // Its warm process takes seconds to preload (corpus-findings T15).
    tool: "cspell",
    from: "npm cspell",
    runtime: "node",
    files: { "ok.md": "Hello world.\n", "bad.md": "Helo wrold, a mispeled line.\n" },
    cases: [
      { name: "a clean file", argv: ["cspell", "ok.md"], normalise: [ms("cspell's time per file: '1/1 ok.md 3731.60ms'")] },
      { name: "unknown words (exit 1)", argv: ["cspell", "bad.md"], normalise: [ms("cspell's time per file")] },
    ],
    expect: { warm: true },
  },
];

/** Compilers (another test file). */
export const nodeCompileTools: Tool[] = [
  {
    tool: "tsc",
    from: "npm typescript",
    runtime: "node",
    files: {
      "ok.ts": "export const n: number = 1;\n",
      "bad.ts": "const s: string = 1;\nexport {};\n",
    },
    cases: [
      { name: "type errors (exit 2)", argv: ["tsc", "--noEmit", "--lib", "es2020", "bad.ts"] },
      { name: "compile, writes ok.js", argv: ["tsc", "--lib", "es2020", "ok.ts"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "babel",
    from: "npm @babel/cli",
    runtime: "node",
    files: { "src/a.js": "const f = (x) => x ?? 1;\nexport default f;\n", "bad.js": "let = ;\n" },
    cases: [
      { name: "a directory to lib/", argv: ["babel", "src", "-d", "lib"], normalise: [ms("babel's 'Successfully compiled 1 file with Babel (87ms).'")] },
      { name: "a syntax error (exit 1)", argv: ["babel", "bad.js"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "ts-node",
    from: "npm ts-node",
    runtime: "node",
    // Node loads a.ts as an ES module and cannot (no loader for .ts): the import error's stack trace
    // showed warm's ESM learning hooks in the runs that learned (corpus-findings T1).
    files: { "a.ts": "export {};\n", "bad.ts": "const s: string = 1;\n" },
    cases: [
      { name: "an ES import Node cannot load (exit 1)", argv: ["ts-node", "a.ts", "x"] },
      { name: "a type error (exit 1)", argv: ["ts-node", "bad.ts"] },
    ],
    expect: { warm: true },
  },
];

/** Bundlers and test runners (another test file). */
export const nodeBuildTools: Tool[] = [
  {
    tool: "webpack",
    from: "npm webpack-cli",
    runtime: "node",
    files: bundleSrc,
    cases: [
      {
        name: "a production bundle",
        argv: ["webpack", "--mode", "production", "--entry", "./src/index.js", "-o", "dist", "--no-stats"],
      },
      {
        name: "a missing entry (exit 1)",
        argv: ["webpack", "--mode", "development", "--entry", "./src/nope.js", "-o", "dist"],
        normalise: [ms("webpack's compile time: 'compiled with 1 error in 12 ms'")],
      },
    ],
    expect: { warm: true },
  },
  {
    tool: "mocha",
    from: "npm mocha",
    runtime: "node",
    files: {
      "test/math.test.js": 'const assert = require("assert");\ndescribe("math", () => {\n  it("adds", () => assert.equal(1 + 1, 2));\n  it("fails", () => assert.equal(1 + 1, 3));\n});\n',
      "ok.test.js": 'const assert = require("assert");\nit("passes", () => assert.ok(true));\n',
    },
    cases: [
      { name: "passing", argv: ["mocha", "ok.test.js"], normalise: [ms("mocha's '1 passing (2ms)' duration")] },
      { name: "a failing test (exit 1)", argv: ["mocha"], normalise: [ms("mocha's '1 passing (2ms)' duration")] },
    ],
    expect: { warm: true },
  },
  {
    tool: "jest",
    from: "npm jest",
    runtime: "node",
    files: {
      "package.json": '{ "name": "j", "private": true }\n',
      "sum.js": "module.exports = (a, b) => a + b;\n",
      "sum.test.js": 'const sum = require("./sum");\ntest("adds", () => expect(sum(1, 2)).toBe(3));\ntest("fails", () => expect(sum(2, 2)).toBe(5));\n',
    },
    cases: [
      {
        name: "a failing test (exit 1)",
        argv: ["jest", "--ci", "--cache=false"],
        normalise: [ms("jest's 'Time: 0.5 s' and per-test '(3 ms)'")],
      },
    ],
    expect: { warm: true },
  },
  {
    tool: "esbuild",
    from: "npm esbuild",
    runtime: "native",
    files: bundleSrc,
    cases: [
      { name: "bundle to a file", argv: ["esbuild", "src/index.js", "--bundle", "--outfile=out.js"], normalise: [ms("esbuild's 'Done in 3ms'")] },
      { name: "a missing entry (exit 1)", argv: ["esbuild", "src/nope.js", "--bundle"] },
    ],
    // A native binary (npm's esbuild replaces its JS launcher with it at install).
    expect: { warm: false, why: "a native executable \\(ELF\\)" },
  },
  {
    tool: "rollup",
    from: "npm rollup",
    runtime: "node",
    files: bundleSrc,
    cases: [
      { name: "bundle to stdout", argv: ["rollup", "src/index.js", "--format", "es"] },
      { name: "bundle to a file", argv: ["rollup", "src/index.js", "--format", "cjs", "-o", "out.js"], normalise: [ms("rollup's 'created out.js in 12ms'")] },
      { name: "a missing entry (exit 1)", argv: ["rollup", "src/nope.js"] },
    ],
    expect: { warm: true },
  },
];

/** Minifiers, linters of other languages, converters (another test file). */
export const nodeCliTools: Tool[] = [
  {
    tool: "terser",
    from: "npm terser",
    runtime: "node",
    files: { "a.js": ugly, "bad.js": "let = ;\n" },
    cases: [
      { name: "compress and mangle", argv: ["terser", "a.js", "-c", "-m"] },
      { name: "a syntax error (exit 1)", argv: ["terser", "bad.js"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "uglifyjs",
    from: "npm uglify-js",
    runtime: "node",
    files: { "a.js": ugly, "bad.js": "let = ;\n" },
    cases: [
      { name: "compress and mangle to a file", argv: ["uglifyjs", "a.js", "-c", "-m", "-o", "out.js"] },
      { name: "a syntax error (exit 1)", argv: ["uglifyjs", "bad.js"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "stylelint",
    from: "npm stylelint",
    runtime: "node",
    files: {
      ".stylelintrc.json": '{ "rules": { "color-no-invalid-hex": true, "block-no-empty": true } }\n',
      "ok.css": "a { color: #fff; }\n",
      "bad.css": "a { color: #ffz; }\nb {}\n",
    },
    cases: [
      { name: "a clean file", argv: ["stylelint", "ok.css"] },
      { name: "errors (exit 2)", argv: ["stylelint", "bad.css"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "markdownlint",
    from: "npm markdownlint-cli",
    runtime: "node",
    files: { "ok.md": "# Title\n\nText.\n", "bad.md": "# Title\n## Sub\ntrailing   \n" },
    cases: [
      { name: "a clean file", argv: ["markdownlint", "ok.md"] },
      { name: "errors (exit 1)", argv: ["markdownlint", "bad.md"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "js-yaml",
    from: "npm js-yaml",
    runtime: "node",
    files: { "a.yaml": "name: x\nlist: [1, 2]\nnested:\n  k: v\n", "bad.yaml": "a: [1\n" },
    cases: [
      { name: "YAML to JSON", argv: ["js-yaml", "a.yaml"] },
      { name: "a syntax error (exit 1)", argv: ["js-yaml", "bad.yaml"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "semver",
    from: "npm semver",
    runtime: "node",
    files: {},
    cases: [
      { name: "filter by range", argv: ["semver", "-r", "^1.2.0", "1.2.3", "1.3.0", "2.0.0"] },
      { name: "no match (exit 1)", argv: ["semver", "-r", "^3", "1.2.3"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "marked",
    from: "npm marked",
    runtime: "node",
    files: { "a.md": "# Title\n\n- one\n- *two*\n\n`code`\n" },
    cases: [
      { name: "a file to HTML", argv: ["marked", "-i", "a.md"] },
      { name: "stdin to HTML", argv: ["marked"], stdin: "## From stdin\n\n**bold**\n" },
    ],
    expect: { warm: true },
  },
];

/** Validators, style compilers, package managers (another test file). */
export const nodeMoreTools: Tool[] = [
  {
    tool: "ajv",
    from: "npm ajv-cli",
    runtime: "node",
    files: {
      "schema.json": '{ "type": "object", "properties": { "n": { "type": "number" } }, "required": ["n"] }\n',
      "good.json": '{ "n": 1 }\n',
      "bad.json": '{ "n": "one" }\n',
    },
    cases: [
      { name: "valid data", argv: ["ajv", "validate", "-s", "schema.json", "-d", "good.json"] },
      { name: "invalid data (exit 1)", argv: ["ajv", "validate", "-s", "schema.json", "-d", "bad.json"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "cowsay",
    from: "npm cowsay",
    runtime: "node",
    files: {},
    cases: [
      { name: "say", argv: ["cowsay", "hello"] },
      { name: "another cow", argv: ["cowsay", "-f", "tux", "hi"] },
    ],
    expect: { warm: true },
  },
  {
    // It compiles the script in require.main: a stand-in there that was not the real module broke every warm run.
    tool: "coffee",
    from: "npm coffeescript",
    runtime: "node",
    files: { "a.coffee": 'square = (x) -> x * x\nconsole.log square 3\nconsole.log "main" if require.main is module\n', "bad.coffee": "x = (\n" },
    cases: [
      { name: "run a script", argv: ["coffee", "a.coffee"] },
      { name: "compile to stdout", argv: ["coffee", "-p", "a.coffee"] },
      { name: "a syntax error (exit 1)", argv: ["coffee", "bad.coffee"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "sass",
    from: "npm sass",
    runtime: "node",
    files: { "a.scss": "$c: #333;\n.a { .b { color: $c; } }\n", "bad.scss": ".a { color: $nope; }\n" },
    cases: [
      { name: "compile to stdout", argv: ["sass", "--no-source-map", "a.scss"] },
      { name: "an undefined variable (exit 65)", argv: ["sass", "bad.scss"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "lessc",
    from: "npm less",
    runtime: "node",
    files: { "a.less": "@c: #333;\n.a { .b { color: @c; } }\n", "bad.less": ".a { color: @nope; }\n" },
    cases: [
      { name: "compile to stdout", argv: ["lessc", "a.less"] },
      { name: "an undefined variable (exit 1)", argv: ["lessc", "bad.less"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "svgo",
    from: "npm svgo",
    runtime: "node",
    files: { "a.svg": '<?xml version="1.0"?>\n<!-- a comment -->\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">\n  <rect x="0" y="0" width="10" height="10" fill="#ff0000"/>\n</svg>\n' },
    cases: [{ name: "optimise to a file", argv: ["svgo", "a.svg", "-o", "out.svg"], normalise: [ms("svgo's 'Done in 12 ms!'")] }],
    expect: { warm: true },
  },
  {
    tool: "npm",
    from: "Node.js's npm",
    runtime: "node",
    files: { "package.json": '{ "name": "p", "version": "1.0.0", "private": true, "scripts": { "hello": "echo hello from a script", "fail": "exit 3" } }\n' },
    cases: [
      { name: "--version", argv: ["npm", "--version"], normalise: [spinner] },
      { name: "run a script", argv: ["npm", "run", "hello"], normalise: [spinner] },
      { name: "a failing script (exit 3)", argv: ["npm", "run", "fail"], normalise: [spinner] },
    ],
    // npm names its debug log after the time the run started, and says that name in it.
    homeNormalise: [{ path: /^\.npm\/_logs\/.*-debug-0\.log$/, rules: [{ re: /\d{4}-\d\d-\d\dT\d\d_\d\d_\d\d_\d{3}Z/g, to: "<time>", why: "the run's start time" }], why: "a debug log named after the run's start time" }],
    expect: { warm: true },
  },
  {
    tool: "npx",
    from: "Node.js's npm",
    runtime: "node",
    files: {},
    cases: [{ name: "--version", argv: ["npx", "--version"], normalise: [spinner] }],
    expect: { warm: true },
  },
  {
    tool: "yarn",
    from: "npm yarn",
    runtime: "node",
    files: { "package.json": '{ "name": "p", "version": "1.0.0", "private": true, "scripts": { "hello": "echo hello from a script" } }\n' },
    cases: [
      { name: "--version", argv: ["yarn", "--version"] },
      { name: "run a script", argv: ["yarn", "run", "hello"], normalise: [ms("yarn's 'Done in 0.05s.'")] },
    ],
    expect: { warm: true },
  },
];

export const nodeTools: Tool[] = [...nodeLintTools, ...nodeCompileTools, ...nodeBuildTools, ...nodeCliTools, ...nodeMoreTools];
