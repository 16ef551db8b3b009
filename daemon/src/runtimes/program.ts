// Which interpreter a request runs and with which words: `node x.js`,
// `python3 -m y`, or a script whose shebang names one. Shared by the
// runtimes so a request's executable is read once; each runtime then parses
// its own interpreter's flags.
import { closeSync, openSync, readSync, realpathSync, type Stats, statSync } from "node:fs";
import { basename, delimiter, isAbsolute, join, resolve } from "node:path";
import { dataDirs } from "../cli/dirs";
import { envLookup, type RunRequest } from "../protocol/messages";

export type Interpreter = "node" | "python" | "coprocess";

export interface Program {
  kind: Interpreter;
  /** The request's executable and working directory, decoded once for every runtime. */
  exe: string;
  cwd: string;
  /** The interpreter as it is executed (absolute; not symlink-resolved: a venv's python is a symlink that matters). */
  interpreter: string;
  /** argv[0] the interpreter gets. */
  argv0: string;
  /** The interpreter's argv after argv[0]: its flags, the script or -m/-c, the tool's arguments. */
  words: string[];
  /** Index in request.argv that matches words[0] (negative when a shebang added words). */
  argsBase: number;
  /** Run through a shebang: words hold the executable's path where the script goes. */
  scriptFromExe: boolean;
}

function interpreterKind(path: string): Interpreter | null {
  const name = basename(realpathOr(path));
  if (/^node(js)?(\d+)?$/.test(name)) return "node";
  // A real CPython binary, not a wrapper script of the same name (pyenv's shims are bash).
  if (/^python(\d+(\.\d+)?)?$/.test(name) && isElf(path)) return "python";
  return null;
}

/** PATH lookup as the caller's shell would do it (the daemon's own PATH is not the caller's); `skip`: files passed over. */
export function which(name: string, env: Buffer[], cwd: string, skip: (st: Stats) => boolean = () => false): string | null {
  const path = envLookup(env, "PATH") ?? "/bin:/usr/bin";
  for (const dir of path.split(delimiter)) {
    const candidate = resolve(cwd, dir || ".", name);
    try {
      const st = statSync(candidate);
      if (st.isFile() && (st.mode & 0o111) !== 0 && !skip(st)) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Whether a file is warm's shim, which the caller's links (`warm link`, the
 * private links dir of `warm exec`) point at: the caller's installed shim
 * or this checkout's bin/warm. A shebang's `env node` is looked up past
 * them, as the shim's own PATH lookup passes over itself: the script runs
 * warm in one hop.
 */
function warmShim(env: Buffer[]): (st: Stats) => boolean {
  const home = envLookup(env, "HOME");
  const xdg = envLookup(env, "XDG_DATA_HOME");
  const shims = [dataDirs({ ...(home !== undefined && { HOME: home }), ...(xdg !== undefined && { XDG_DATA_HOME: xdg }) }).shim, join(__dirname, "..", "..", "..", "bin", "warm")];
  const ids = new Set<string>();
  for (const shim of shims) {
    try {
      const st = statSync(shim);
      ids.add(`${st.dev}:${st.ino}`);
    } catch {
      // not installed
    }
  }
  return (st) => ids.has(`${st.dev}:${st.ino}`);
}

interface Shebang {
  interpreter: string;
  /** Words the interpreter gets before the script. */
  words: string[];
  argv0: string;
}

export function head(path: string, size: number): Buffer {
  const buf = Buffer.alloc(size);
  let fd = -1;
  try {
    fd = openSync(path, "r");
    return buf.subarray(0, readSync(fd, buf, 0, size, 0));
  } catch {
    return Buffer.alloc(0);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

function isElf(path: string): boolean {
  return head(path, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
}

function readShebang(exe: string): Shebang | null {
  const buf = head(exe, 256);
  const n = buf.length;
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

export function identify(request: RunRequest, cwd: string): Program | { direct: string } {
  const exe = request.exe.toString("utf8");
  const argv = request.argv.map((a) => a.toString("utf8"));
  const kind = interpreterKind(exe);
  if (kind) return { kind, exe, cwd, interpreter: exe, argv0: argv[0], words: argv.slice(1), argsBase: 1, scriptFromExe: false };
  const shebang = readShebang(exe);
  if (!shebang) return { direct: `not a program warm runs warm: ${exe}` };
  const interp = isAbsolute(shebang.interpreter) ? shebang.interpreter : which(shebang.interpreter, request.env, cwd, warmShim(request.env));
  const shebangKind = interp ? interpreterKind(interp) : null;
  if (!interp || !shebangKind) return { direct: notWarm(exe, shebang.interpreter) };
  return {
    kind: shebangKind,
    exe,
    cwd,
    interpreter: interp,
    argv0: shebang.argv0,
    words: [...shebang.words, exe, ...argv.slice(1)],
    argsBase: 1 - (shebang.words.length + 1),
    scriptFromExe: true,
  };
}

/** Why a script whose shebang names another interpreter runs directly, in words a user can act on. */
function notWarm(exe: string, interpreter: string): string {
  const shell = /^(ba|da|z|k)?sh$/.test(basename(interpreter));
  if (shell && (/\/shims\/[^/]+$/.test(exe) || /^(python|node)/.test(basename(exe)))) {
    // pyenv's, asdf's and nodenv's shims are shell scripts that choose the interpreter as they run.
    return `${exe} is a ${basename(interpreter)} script that picks the interpreter at run time (a version manager's shim, such as pyenv's), ` +
      `not the interpreter itself: warm cannot know what it would run without running it. Put the interpreter's own directory (e.g. \`pyenv prefix\`/bin) first on PATH to run warm`;
  }
  return `${exe} runs ${interpreter}, which is not an interpreter warm runs warm`;
}

export function realpathOr(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path;
  }
}
