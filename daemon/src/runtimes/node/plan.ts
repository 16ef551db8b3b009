// Decides whether a request is a Node script warm can run, and what a run
// of it depends on at load time (its key). Anything warm does not fully
// understand goes direct: slower, never different.
import { closeSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { basename, delimiter, isAbsolute, resolve } from "node:path";
import { envLookup, type RunRequest } from "../../protocol/messages";

export interface NodePlan {
  nodeExe: string;
  /** Node's own flags, passed to the warm process at startup. */
  execArgv: string[];
  /** What the warm process's process.argv0 must be. */
  argv0: string;
  /** The entry as process.argv[1] shows it (absolute, not symlink-resolved). */
  script: string;
  scriptReal: string;
  /** Index in request.argv of the first argument after the script. */
  argsFrom: number;
  /**
   * Names that select per-tool config, most familiar first (it labels the
   * pool): the command word (`prettier`), or for `node script` the script's
   * basename; then the script as given and as its realpath.
   */
  toolNames: string[];
}

export type PlanResult = { plan: NodePlan } | { direct: string };

// Flags that take the next word as their value when written without "=".
const WITH_VALUE = new Set([
  "--title", "--conditions", "-C", "--input-type", "--disable-warning", "--unhandled-rejections",
  "--redirect-warnings", "--diagnostic-dir", "--heapsnapshot-signal", "--dns-result-order",
  "--stack-trace-limit", "--max-old-space-size", "--max-semi-space-size", "--stack-size",
  "--experimental-default-type", "--icu-data-dir", "--openssl-config", "--tls-cipher-list",
  "--secure-heap", "--secure-heap-min", "--trace-event-categories", "--trace-event-file-pattern",
]);
// Flags that change what runs or how: a warm process cannot stand in.
const DIRECT = /^(-e|--eval|-p|--print|-c|--check|-i|--interactive|--test.*|--watch.*|--inspect.*|--debug.*|-r|--require|--import|--loader|--experimental-loader|--env-file.*|--run|--snapshot-blob|--build-snapshot.*|-v|--version|-h|--help|--v8-options|--completion-bash|--prof-process|--cpu-prof.*|--heap-prof.*|--experimental-policy|--policy-integrity|--experimental-permission|--allow-.*)$/;
// Boolean flags known to be safe in a long-lived process.
const BOOLEAN = /^(--no-warnings|--no-deprecation|--throw-deprecation|--trace-deprecation|--pending-deprecation|--trace-warnings|--trace-uncaught|--enable-source-maps|--preserve-symlinks|--preserve-symlinks-main|--abort-on-uncaught-exception|--expose-gc|--no-addons|--no-global-search-paths|--frozen-intrinsics|--disable-proto=.*|--experimental-vm-modules|--experimental-wasm-modules|--experimental-json-modules|--experimental-import-meta-resolve|--experimental-specifier-resolution=.*|--experimental-detect-module|--no-experimental-.*|--experimental-require-module|--harmony.*|--jitless|--no-opt|--use-strict|--zero-fill-buffers|--force-context-aware|--no-force-async-hooks-checks|--report-on-fatalerror|--report-uncaught-exception|--trace-sigint|--trace-exit|--trace-sync-io|--track-heap-objects)$/;
const NODE_OPTIONS_DIRECT = /(^|\s)(-r|--require|--import|--loader|--experimental-loader|--env-file|--inspect|--watch|--test)\b/;

function isNodeBinary(path: string): boolean {
  return /^node(js)?(\d+)?$/.test(basename(path));
}

/** PATH lookup as the caller's shell would do it (the daemon's own PATH is not the caller's). */
function which(name: string, env: Buffer[], cwd: string): string | null {
  const path = envLookup(env, "PATH") ?? "/bin:/usr/bin";
  for (const dir of path.split(delimiter)) {
    const candidate = resolve(cwd, dir || ".", name);
    try {
      const st = statSync(candidate);
      if (st.isFile() && (st.mode & 0o111) !== 0) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

interface Shebang {
  interpreter: string;
  /** Words the interpreter gets before the script. */
  words: string[];
  argv0: string;
}

function readShebang(exe: string): Shebang | null {
  const buf = Buffer.alloc(256);
  let n = 0;
  let fd = -1;
  try {
    fd = openSync(exe, "r");
    n = readSync(fd, buf, 0, buf.length, 0);
  } catch {
    return null;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  if (n < 2 || buf[0] !== 0x23 || buf[1] !== 0x21) return null;
  const end = buf.indexOf(0x0a);
  const line = buf.subarray(2, end < 0 ? n : end).toString("utf8").replace(/\r$/, "").trim();
  const space = line.search(/[ \t]/);
  const interpreter = space < 0 ? line : line.slice(0, space);
  const rest = space < 0 ? "" : line.slice(space).trim();
  if (basename(interpreter) === "env") {
    // `#!/usr/bin/env node` or `#!/usr/bin/env -S node --flags`
    const words = rest.startsWith("-S ") ? rest.slice(3).trim().split(/\s+/) : [rest];
    if (words[0]?.startsWith("-") || words[0]?.includes("=")) return null;
    return { interpreter: words[0], words: words.slice(1), argv0: words[0] };
  }
  // The kernel passes everything after the interpreter as one word.
  return { interpreter, words: rest ? [rest] : [], argv0: interpreter };
}

export function planNode(request: RunRequest, cwd: string): PlanResult {
  const exe = request.exe.toString("utf8");
  const argv = request.argv.map((a) => a.toString("utf8"));
  const env = request.env;
  let nodeExe: string;
  let argv0: string;
  let words: string[]; // the node process's argv after argv[0]
  let argsBase: number; // index in request.argv matching words[0]
  let scriptFromExe = false;

  if (isNodeBinary(realpathOr(exe))) {
    nodeExe = exe;
    argv0 = argv[0];
    words = argv.slice(1);
    argsBase = 1;
  } else {
    const shebang = readShebang(exe);
    if (!shebang) return { direct: `not a Node.js program: ${exe}` };
    const interp = isAbsolute(shebang.interpreter) ? shebang.interpreter : which(shebang.interpreter, env, cwd);
    if (!interp || !isNodeBinary(realpathOr(interp))) return { direct: `interpreter is not node: ${shebang.interpreter}` };
    nodeExe = interp;
    argv0 = shebang.argv0;
    words = [...shebang.words, exe, ...argv.slice(1)];
    argsBase = 1 - (shebang.words.length + 1);
    scriptFromExe = true;
  }

  const execArgv: string[] = [];
  let i = 0;
  for (; i < words.length; i++) {
    const w = words[i];
    if (w === "--") {
      i++;
      break;
    }
    if (!w.startsWith("-") || w === "-") break;
    const name = w.includes("=") ? w.slice(0, w.indexOf("=")) : w;
    if (DIRECT.test(name)) return { direct: `node option ${name} runs directly` };
    if (w.includes("=") && (WITH_VALUE.has(name) || /^--[a-z]/.test(name))) {
      execArgv.push(w);
    } else if (WITH_VALUE.has(w)) {
      if (i + 1 >= words.length) return { direct: `node option ${w} needs a value` };
      execArgv.push(w, words[++i]);
    } else if (BOOLEAN.test(w)) {
      execArgv.push(w);
    } else {
      return { direct: `node option ${w} is not known to warm` };
    }
  }
  if (i >= words.length) return { direct: "no script (REPL or stdin)" };
  if (words[i] === "-") return { direct: "script from stdin" };
  if (scriptFromExe && words[i] !== exe) return { direct: "shebang names its own script" };
  const nodeOptions = envLookup(env, "NODE_OPTIONS");
  if (nodeOptions && NODE_OPTIONS_DIRECT.test(nodeOptions)) return { direct: "NODE_OPTIONS loads code at startup" };

  const script = resolve(cwd, words[i]);
  let scriptReal: string;
  try {
    scriptReal = realpathSync.native(script);
    if (!statSync(scriptReal).isFile()) return { direct: `not a file: ${script}` };
  } catch {
    // Let node itself print its "Cannot find module" error.
    return { direct: `no such script: ${script}` };
  }
  return {
    plan: {
      nodeExe: realpathOr(nodeExe),
      execArgv,
      argv0,
      script,
      scriptReal,
      argsFrom: i + 1 + argsBase,
      toolNames: [...new Set([scriptFromExe ? basename(argv[0]) : basename(script), basename(script), script, scriptReal])],
    },
  };
}

function realpathOr(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path;
  }
}

/** Env variables that change what a Node tool does while it loads. */
export function isKeyEnvName(name: string): boolean {
  return /^(NODE_.*|LANG|LANGUAGE|LC_.*|TZ|TERM|COLORTERM|FORCE_COLOR|NO_COLOR|CI|PATH|HOME|TMPDIR|UV_.*|LD_.*|SSL_CERT_.*|OPENSSL_.*)$/.test(name);
}
