// The corpus's Python tools, from Debian (.ci/run installs them), each with
// a small project and commands users type, errors included.
import type { Tool } from "./types";

const badPy = "import os, sys\ndef f( x ):\n  return x==None\nprint(f(1))\n";
const okPy = 'def add(a, b):\n    """Add."""\n    return a + b\n';

/** Formatters, linters, type checkers, test runners, an HTTP client (one test file). */
export const pythonLintTools: Tool[] = [
  {
    tool: "black",
    from: "Debian black",
    runtime: "python",
    files: { "a.py": badPy, "ok.py": okPy },
    cases: [
      { name: "--version", argv: ["black", "--version"] },
      { name: "--check, would reformat (exit 1)", argv: ["black", "--check", "a.py", "ok.py"] },
      { name: "format in place", argv: ["black", "a.py"] },
      { name: "from stdin", argv: ["black", "-q", "-"], stdin: badPy },
    ],
    // Its cache pickles each formatted file's mtime, and every run starts from the project written again.
    homeNormalise: [{ path: /^\.cache\/black\/.*\.pickle$/, why: "the formatted file's mtime, which each run's reset sets anew" }],
    expect: { warm: true },
  },
  {
    tool: "flake8",
    from: "Debian flake8",
    runtime: "python",
    files: { "a.py": badPy, "ok.py": okPy },
    cases: [
      { name: "a clean file", argv: ["flake8", "ok.py"] },
      { name: "errors (exit 1)", argv: ["flake8", "a.py"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "pylint",
    from: "Debian pylint",
    runtime: "python",
    files: { "a.py": badPy },
    cases: [{ name: "errors (exit 30)", argv: ["pylint", "a.py"] }],
    expect: { warm: true },
  },
  {
    tool: "mypy",
    from: "Debian mypy",
    runtime: "python",
    files: { "ok.py": "def f(x: int) -> int:\n    return x\n", "bad.py": 'def f(x: int) -> str:\n    return x\n\nf("a")\n' },
    keep: [{ path: ".mypy_cache", why: "mypy's cache records mtimes; a run with or without it prints the same" }],
    cases: [
      { name: "--version", argv: ["mypy", "--version"] },
      { name: "a clean file", argv: ["mypy", "ok.py"] },
      { name: "type errors (exit 1)", argv: ["mypy", "bad.py"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "pytest",
    from: "Debian python3-pytest",
    runtime: "python",
    files: {
      "calc.py": "def add(a, b):\n    return a + b\n",
      "test_calc.py": "from calc import add\n\ndef test_ok():\n    assert add(1, 1) == 2\n\ndef test_fail():\n    assert add(2, 2) == 5\n",
    },
    cases: [
      {
        name: "a failing assertion (exit 1)",
        argv: ["pytest-3", "-q", "-p", "no:cacheprovider"],
        normalise: [{ re: /in \d+\.\d+s/g, to: "in <time>", why: "pytest's '1 failed, 1 passed in 0.05s'" }],
      },
      {
        name: "python3 -m pytest",
        argv: ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_calc.py"],
        normalise: [{ re: /in \d+\.\d+s/g, to: "in <time>", why: "pytest's '1 failed, 1 passed in 0.05s'" }],
      },
    ],
    expect: { warm: true },
  },
  {
    tool: "http",
    from: "Debian httpie",
    runtime: "python",
    files: {},
    cases: [
      { name: "--version", argv: ["http", "--version"] },
      { name: "an offline GET", argv: ["http", "--offline", "--ignore-stdin", "GET", "example.org/x", "q==1"] },
      { name: "an offline JSON POST", argv: ["http", "--offline", "--ignore-stdin", "POST", "example.org", "a=1", "b:=2"] },
      { name: "a bad argument (exit 2)", argv: ["http", "--nope"] },
    ],
    expect: { warm: true },
  },
];

/** Linters, docs tools, VCS, highlighters (another test file). */
export const pythonMoreTools: Tool[] = [
  {
    tool: "yamllint",
    from: "Debian yamllint",
    runtime: "python",
    files: { "ok.yaml": "---\na: 1\n", "bad.yaml": "a: 1\na: 2\nb:   [1,2]\n" },
    cases: [
      { name: "a clean file", argv: ["yamllint", "ok.yaml"] },
      { name: "errors (exit 1)", argv: ["yamllint", "bad.yaml"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "sphinx-build",
    from: "Debian python3-sphinx",
    runtime: "python",
    files: { "docs/conf.py": 'project = "p"\n', "docs/index.rst": "Title\n=====\n\nSome *text*.\n\n.. note:: a note\n" },
    keep: [{ path: "out/.doctrees", why: "sphinx's pickled environment records build times" }],
    cases: [{ name: "a text build", argv: ["sphinx-build", "-q", "-b", "text", "docs", "out"] }],
    expect: { warm: true },
  },
  {
    tool: "pycodestyle",
    from: "Debian pycodestyle",
    runtime: "python",
    files: { "a.py": badPy, "ok.py": okPy },
    cases: [
      { name: "a clean file", argv: ["pycodestyle", "ok.py"] },
      { name: "errors (exit 1)", argv: ["pycodestyle", "a.py"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "pyflakes3",
    from: "Debian pyflakes3",
    runtime: "python",
    files: { "a.py": badPy },
    cases: [{ name: "errors (exit 1)", argv: ["pyflakes3", "a.py"] }],
    expect: { warm: true },
  },
  {
    tool: "isort",
    from: "Debian isort",
    runtime: "python",
    files: { "a.py": "import sys\nimport os\nprint(os, sys)\n" },
    cases: [
      { name: "--check-only (exit 1)", argv: ["isort", "--check-only", "a.py"] },
      { name: "sort in place", argv: ["isort", "a.py"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "hg",
    from: "Debian mercurial",
    runtime: "python",
    files: { "a.txt": "one\n", "b.txt": "two\n" },
    setup: [["hg", "init"], ["hg", "add", "-q", "a.txt"]],
    cases: [
      { name: "version -q", argv: ["hg", "version", "-q"] },
      { name: "status", argv: ["hg", "status"] },
      { name: "diff", argv: ["hg", "diff", "--nodates"] },
      { name: "an unknown command (exit 255)", argv: ["hg", "nope"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "rst2html",
    from: "Debian python3-docutils",
    runtime: "python",
    files: { "a.rst": "Title\n=====\n\nSome *text* and ``code``.\n" },
    cases: [{ name: "to HTML", argv: ["rst2html", "a.rst"] }],
    expect: { warm: true },
  },
  {
    tool: "pygmentize",
    from: "Debian python3-pygments",
    runtime: "python",
    files: { "a.py": okPy },
    cases: [
      { name: "highlight to HTML", argv: ["pygmentize", "-f", "html", "-l", "python", "a.py"] },
      { name: "an unknown lexer (exit 1)", argv: ["pygmentize", "-l", "nope", "a.py"] },
    ],
    expect: { warm: true },
  },
  {
    // Its Display() reconfigures stdout when first imported, and nearly every module imports it: learning must
    // drop all of those importers at once, not one per template (which ran out of tries and never ran warm).
    tool: "ansible",
    from: "Debian ansible-core",
    runtime: "python",
    files: {},
    cases: [
      { name: "--version", argv: ["ansible", "--version"] },
      { name: "ping localhost", argv: ["ansible", "localhost", "-m", "ping", "-c", "local"] },
      { name: "an unknown module (exit 2)", argv: ["ansible", "localhost", "-m", "nope", "-c", "local"] },
    ],
    expect: { warm: true },
  },
  {
    // awscli adds its data directory to AWS_DATA_PATH while it loads: preloaded, a child's env lacked it ("Unable to
    // load data for: cli", exit 255); a module that writes the environment while loading now loads in each run.
    tool: "aws",
    from: "Debian awscli",
    runtime: "python",
    files: {},
    cases: [
      { name: "--version", argv: ["aws", "--version"] },
      { name: "configure list", argv: ["aws", "configure", "list"] },
      { name: "an unknown command (exit 252)", argv: ["aws", "nope"] },
    ],
    expect: { warm: true },
  },
  {
    // Its settings are a lazy proxy whose __class__ raises while unconfigured: ending a run once asked it, and every run exited 70.
    tool: "django-admin",
    from: "Debian python3-django",
    runtime: "python",
    files: {},
    cases: [
      { name: "--version", argv: ["django-admin", "--version"] },
      { name: "help", argv: ["django-admin", "help"] },
      { name: "an unknown command (exit 1)", argv: ["django-admin", "nope"] },
    ],
    expect: { warm: true },
  },
  {
    tool: "json.tool",
    from: "Debian python3",
    runtime: "python",
    files: { "a.json": '{"b": [1, 2], "a": null}\n' },
    cases: [
      { name: "pretty-print", argv: ["python3", "-m", "json.tool", "--sort-keys", "a.json"] },
      { name: "invalid JSON (exit 1)", argv: ["python3", "-m", "json.tool"], stdin: "{nope" },
    ],
    expect: { warm: true },
  },
];

export const pythonTools: Tool[] = [...pythonLintTools, ...pythonMoreTools];
