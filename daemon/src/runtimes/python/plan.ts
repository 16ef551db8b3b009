// Decides whether a request is a Python program warm can run, and reads
// CPython's command line the way CPython does: its flags, then a script,
// `-m module` or `-c code`. Anything else (the REPL, stdin, -i, verbose
// imports) goes direct: slower, never different.
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { envLookup, type RunRequest } from "../../protocol/messages";
import { type Program, realpathOr } from "../program";

export interface PythonPlan {
  /** The interpreter as executed (a venv's symlink stays one: it decides sys.prefix). */
  interpreter: string;
  interpreterReal: string;
  argv0: string;
  /** CPython's own flags, given to the template at its start. */
  flags: string[];
  mode: "script" | "module" | "code";
  /** The script's realpath, the module's name, or "" for -c. */
  target: string;
  /** The interpreter's whole argv as the direct run would get it (sys.orig_argv). */
  origArgv: Buffer[];
  /** Index in origArgv of the tool's first argument (after the script, module or code). */
  argsFrom: number;
  /** Names that select per-tool config, most familiar first (it labels the pool). */
  toolNames: string[];
}

// Flags with no value, safe in a template (they are the template's flags too).
const BOOLEAN = new Set("bBEIOPqRsSu".split(""));
// Flags that make a run something a template cannot stand in for.
const DIRECT: Record<string, string> = {
  i: "-i (interactive after the run)",
  v: "-v (verbose imports are printed as they load)",
  d: "-d (parser debugging)",
  x: "-x (skips the script's first line)",
  h: "-h",
  V: "-V",
  "?": "-?",
};
const DIRECT_ENV = ["PYTHONINSPECT", "PYTHONVERBOSE", "PYTHONPROFILEIMPORTTIME", "PYTHONDEBUG"];
// Coverage of every Python process started with it set (coverage's process_startup in a .pth, pytest-cov's own
// .pth), begun as the interpreter starts: a template started without it, its children measure nothing.
const DIRECT_COVERAGE_ENV = ["COVERAGE_PROCESS_START", "COV_CORE_SOURCE"];
// -m targets that trace or profile the whole run (imports included) or debug it.
const DIRECT_MODULES = new Set(["cProfile", "profile", "trace", "pdb", "coverage"]);

export function planPython(program: Program, request: RunRequest): { plan: PythonPlan } | { direct: string } {
  const { words, cwd } = program;
  // With a shebang, words are [...its words, the executable, ...the tool's arguments].
  const shebangWords = program.scriptFromExe ? words.length - request.argv.length : 0;
  // The kernel passes the script's path as it was executed: the command word when it has a slash ("./tool"), else
  // the PATH entry's (the request's exe is made absolute).
  const executed = request.argv[0]?.includes(0x2f) ? request.argv[0] : request.exe;
  const origArgv: Buffer[] = program.scriptFromExe
    ? [Buffer.from(program.argv0), ...words.slice(0, shebangWords).map((w) => Buffer.from(w)), executed, ...request.argv.slice(1)]
    : [...request.argv];
  // words[i] is origArgv[i + 1]: raw bytes come from origArgv, decisions from words.
  const flags: string[] = [];
  let mode: PythonPlan["mode"] | null = null;
  let target = "";
  let i = 0;
  for (; i < words.length && mode === null; i++) {
    const w = words[i];
    if (w === "--") {
      i++;
      break;
    }
    if (w === "-") return { direct: "script from stdin" };
    if (!w.startsWith("-")) break;
    if (w.startsWith("--")) {
      if (w === "--check-hash-based-pycs" && i + 1 < words.length) {
        flags.push(w, words[++i]);
        continue;
      }
      return { direct: `python option ${w} runs directly` };
    }
    for (let j = 1; j < w.length; j++) {
      const c = w[j];
      if (BOOLEAN.has(c)) continue;
      if (DIRECT[c]) return { direct: `python option ${DIRECT[c]} runs directly` };
      if (c === "W" || c === "X" || c === "c" || c === "m") {
        const attached = w.slice(j + 1);
        if (!attached && i + 1 >= words.length) return { direct: `python option -${c} needs a value` };
        const value = attached || words[++i];
        if (c === "X" && /^importtime/.test(value)) return { direct: "-X importtime prints as modules load" };
        const before = w.slice(0, j);
        if (before !== "-") flags.push(before);
        if (c === "W" || c === "X") flags.push(`-${c}`, value);
        else {
          mode = c === "c" ? "code" : "module";
          target = c === "m" ? value : "";
        }
        j = w.length;
        continue;
      }
      return { direct: `python option -${c} is not known to warm` };
    }
    if (mode === null && !/[WXcm]/.test(w.slice(1))) flags.push(w);
  }
  const ignoresEnv = flags.some((f) => /^-[^-]*[EI]/.test(f));
  for (const name of DIRECT_ENV) {
    if (!ignoresEnv && envLookup(request.env, name)) return { direct: `${name} is set` };
  }
  for (const name of DIRECT_COVERAGE_ENV) {
    if (envLookup(request.env, name)) return { direct: `${name} is set (coverage of the whole process, begun as it starts)` };
  }
  let toolNames: string[];
  if (mode === "module") {
    if (DIRECT_MODULES.has(target)) return { direct: `-m ${target} traces, profiles or debugs the whole run` };
    toolNames = [target, `-m ${target}`];
  } else if (mode === "code") {
    toolNames = ["-c"];
  } else {
    if (i >= words.length) return { direct: "no script (the interactive interpreter)" };
    mode = "script";
    const script = resolve(cwd, words[i]);
    try {
      target = realpathOr(script);
      if (!statSync(target).isFile()) return { direct: `not a file (a directory or zip runs its __main__): ${script}` };
    } catch {
      return { direct: `no such script: ${script}` }; // CPython prints its own "can't open file"
    }
    if (/\.py[co]$/.test(target) || startsWith(target, [0x50, 0x4b, 0x03, 0x04])) return { direct: "compiled or zipped script" };
    if (program.scriptFromExe && i !== shebangWords) return { direct: "shebang names its own script" };
    toolNames = [...new Set([program.scriptFromExe ? basename(request.argv[0].toString("utf8")) : basename(script), basename(script), script, target])];
    i++;
  }
  return {
    plan: {
      interpreter: program.interpreter,
      interpreterReal: realpathOr(program.interpreter),
      argv0: program.argv0,
      flags,
      mode,
      target,
      origArgv,
      argsFrom: i + 1,
      toolNames,
    },
  };
}

function startsWith(path: string, magic: number[]): boolean {
  const buf = Buffer.alloc(magic.length);
  let fd = -1;
  try {
    fd = openSync(path, "r");
    readSync(fd, buf, 0, buf.length, 0);
  } catch {
    return false;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  return buf.equals(Buffer.from(magic));
}

/**
 * Env variables always in the key: those the interpreter reads in C or
 * before any module can be watched (how it finds modules: PYTHON*, PATH,
 * VIRTUAL_ENV, LD_*; its locale and stdio encoding; TZ; OpenSSL's). Others,
 * HOME and TMPDIR among them, join a tool's key once a module reads them.
 */
export function isKeyEnvName(name: string): boolean {
  return /^(PYTHON.*|LANG|LANGUAGE|LC_.*|TZ|PATH|TERM|LD_.*|SSL_CERT_.*|OPENSSL_.*|VIRTUAL_ENV)$/.test(name);
}
