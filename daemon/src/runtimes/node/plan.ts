// Decides whether a request is a Node script warm can run, and what a run
// of it depends on at load time (its key). Anything warm does not fully
// understand goes direct: slower, never different.
import { realpathSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { envLookup, type RunRequest } from "../../protocol/messages";
import { type Program, realpathOr } from "../program";

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
const DIRECT = /^(-e|--eval|-p|--print|-c|--check|-i|--interactive|--test.*|--watch.*|--inspect.*|--debug.*|-r|--require|--import|--loader|--experimental-loader|--env-file.*|--run|--snapshot-blob|--build-snapshot.*|-v|--version|-h|--help|--v8-options|--completion-bash|--prof-process|--cpu-prof.*|--heap-prof.*|--trace-event.*|--experimental-policy|--policy-integrity|--experimental-permission|--allow-.*)$/;
// Boolean flags known to be safe in a long-lived process.
const BOOLEAN = /^(--no-warnings|--no-deprecation|--throw-deprecation|--trace-deprecation|--pending-deprecation|--trace-warnings|--trace-uncaught|--enable-source-maps|--preserve-symlinks|--preserve-symlinks-main|--abort-on-uncaught-exception|--expose-gc|--no-addons|--no-global-search-paths|--frozen-intrinsics|--disable-proto=.*|--experimental-vm-modules|--experimental-wasm-modules|--experimental-json-modules|--experimental-import-meta-resolve|--experimental-specifier-resolution=.*|--experimental-detect-module|--no-experimental-.*|--experimental-require-module|--harmony.*|--jitless|--no-opt|--use-strict|--zero-fill-buffers|--force-context-aware|--no-force-async-hooks-checks|--report-on-fatalerror|--report-uncaught-exception|--trace-sigint|--trace-exit|--trace-sync-io|--track-heap-objects)$/;
const NODE_OPTIONS_DIRECT = /(^|\s)(-r|--require|--import|--loader|--experimental-loader|--env-file|--inspect|--watch|--test)\b/;
// What node writes as a process ends, of all that process ran (a warm process's preload included, and a forked child never ends that way).
const NODE_OPTIONS_AT_EXIT = /(^|\s)--trace-event/;

export function planNode(program: Program, request: RunRequest): PlanResult {
  const env = request.env;
  const { exe, cwd, interpreter: nodeExe, argv0, words, argsBase, scriptFromExe } = program;

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
  if (nodeOptions && NODE_OPTIONS_AT_EXIT.test(nodeOptions)) return { direct: "NODE_OPTIONS asks for trace events, written as the process ends" };
  // Its parent's IPC channel (spawn's "ipc" stdio, fork()) is an fd above 2, which only a direct run is given.
  const channel = envLookup(env, "NODE_CHANNEL_FD");
  if (channel) return { direct: `an IPC channel on fd ${channel} (NODE_CHANNEL_FD): warm hands a run fds 0-2 only` };
  if (envLookup(env, "NODE_V8_COVERAGE")) return { direct: "NODE_V8_COVERAGE is set (coverage of the whole process, written as it ends)" };

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
      toolNames: [...new Set([scriptFromExe ? basename(request.argv[0].toString("utf8")) : basename(script), basename(script), script, scriptReal])],
    },
  };
}

/** Env variables that change what a Node tool does while it loads. */
/**
 * Env variables always in the key: those node reads in C or in its own
 * bootstrap, before any module can be watched (how it finds modules:
 * NODE_PATH and NODE_OPTIONS, PATH, LD_*; locale, TZ, colour, libuv and
 * OpenSSL settings). Others, HOME and TMPDIR among them, join a tool's key
 * once a module reads them (os.homedir() and os.tmpdir() included).
 */
export function isKeyEnvName(name: string): boolean {
  return /^(NODE_.*|LANG|LANGUAGE|LC_.*|TZ|TERM|COLORTERM|FORCE_COLOR|NO_COLOR|CI|PATH|UV_.*|LD_.*|SSL_CERT_.*|OPENSSL_.*)$/.test(name);
}
