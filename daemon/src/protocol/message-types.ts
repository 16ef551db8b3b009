// Every message of warm's two protocols, one type per row of the spec's
// message tables (protocol-spec/README.md, protocol-spec/coprocess.md): a
// discriminated union on `t` for each link and direction. SPEC_MESSAGES
// lists them as the tables do; the compiler holds it to the unions (below)
// and test/message-types.test.ts holds the spec's tables to it.
type Bin = Uint8Array;
/** A module to preload or one a run loaded: [kind, id]. */
export type ModuleRef = [kind: string, id: string];
type Status = { code: number } | { signal: number };
/** A question a loading module asked of process.argv, with the pool's answer (inside-node/stand-ins.ts). */
export type ArgvQuery = [op: "indexOf" | "lastIndexOf" | "includes" | "length" | "at" | "slice", arg: string | number | null, answer: string | number | boolean | string[] | null];

// The client link (protocol-spec/README.md, "Client link").
export type RunRequestMessage = { t: "run"; v: number; warm: string; argv: Bin[]; exe: Bin; env: Bin[]; cwd: Bin; umask: number; ids: number[]; rlimits: number[] };
export type ShimToDaemon = RunRequestMessage | { t: "status"; v: number } | { t: "stop"; v: number; now?: boolean };
export type DaemonToShim =
  | { t: "direct"; why: string }
  | { t: "started"; pid: number; pgid: number; reset_stdio?: boolean }
  | ({ t: "exit" } & Status)
  | { t: "error"; code: string; why: string }
  | { t: "status"; text: string; json: string }
  | { t: "ok" };

// The runtime link of a Node process, and what a Node or Python child sends on its own link.
export type NodePreload = { t: "preload"; v: number; modules: ModuleRef[]; exclude: string[]; stdio: string; script: Bin; learn_esm: boolean; main_is_cjs: boolean; fork?: boolean; caller_waits?: boolean; plain_flags?: string; plain_tag?: number };
export type NodeRun = { t: "run"; v: number; request: Bin; script: Bin; args_from: number; reset_stdio: boolean; want_pages?: boolean };
export type DaemonToWarm = NodePreload | NodeRun;
type RunReports = { t: "taken" } | { t: "loaded"; modules: ModuleRef[] } | { t: "needs_tty" } | ({ t: "exit"; cpu_us?: number; faults?: number } & Status) | { t: "closed" };
export type WarmToDaemon =
  | { t: "ready"; pid: number; clean: boolean; dropped: [string, string][]; env_read: string[]; env_enumerated?: boolean; argv_queries: ArgvQuery[]; cwd_read: boolean; files_read: string[]; files_read_by?: [string, string[]][] }
  | RunReports
  | { t: "touched"; pages: number[] };

// A Node template's link, after `ready` ("Node: templates that fork").
export type DaemonToNodeTemplate = { t: "fork"; pages: number[] };
export type NodeTemplateToDaemon = { t: "forked"; pid: number } | { t: "fork_failed"; code: string; why: string } | ({ t: "exit"; pid: number; cpu_us: number } & Status);

// A Python template's link and a Python child's ("Python: the template link and the child link").
export type PythonPreload = { t: "preload"; v: number; mode: "script" | "module" | "code"; target: Bin; modules: ModuleRef[]; exclude: string[]; umask: number };
export type DaemonToPythonTemplate = PythonPreload | { t: "fork"; pages: number[] };
export type PythonTemplateToDaemon =
  | { t: "ready"; pid: number; clean: boolean; dropped: [string, string][]; env_read: string[]; cwd_read: boolean; umask_read: boolean; files_read: string[]; dirs_listed: string[]; dirs: string[] }
  | { t: "forked"; pid: number }
  | ({ t: "exit"; pid: number } & Status);
export type PythonRun = { t: "run"; v: number; argv: Bin[]; args_from: number; env: Bin[]; cwd: Bin; umask: number; rlimits: number[]; want_pages?: boolean };
export type DaemonToPythonChild = PythonRun;
export type PythonChildToDaemon = RunReports | { t: "traced" } | { t: "touched"; pages: number[] };

// The coprocess protocol (protocol-spec/coprocess.md, "Messages"): JSON, bytes as base64.
export type CoprocessToDaemon =
  | { t: "hello"; v: number; mode: "fork" | "serial"; pid: number; watch: string[]; env: string[] }
  | ({ t: "exit"; pid: number } & Status)
  | { t: "error"; why: string };
export type DaemonToCoprocess = { t: "run"; argv: string[]; env: string[]; cwd: string; umask: number } | { t: "wait"; pid: number; tell: boolean };
export type RunnerToDaemon = { t: "taken"; pid: number } | { t: "exit"; code: number };
export type RunnerToShim = { t: "started"; pid: number; pgid: number } | { t: "exit"; code: number };

/** A frame as it arrives: its `t` is one its direction has (see `received`); its other fields are for the handler to check. */
export type Received<U extends { t: string }> = U extends { t: infer T } ? { readonly t: T; readonly [key: string]: unknown } : never;

/** The frame as a message of its direction (`types`: that direction's list below), or null if its `t` is none of them: the frame is ignored. */
export function received<U extends { t: string }>(m: { readonly [key: string]: unknown }, types: readonly U["t"][]): Received<U> | null {
  return (types as readonly unknown[]).includes(m.t) ? (m as Received<U>) : null;
}

/** Each link's messages by direction, as the spec's tables list them. */
export const SPEC_MESSAGES = {
  "client link": { "shim → daemon": ["run", "status", "stop"], "daemon → shim": ["direct", "started", "exit", "error", "status", "ok"] },
  "runtime link": { "daemon → warm": ["preload", "run"], "warm → daemon": ["ready", "taken", "loaded", "needs_tty", "exit", "closed", "touched"] },
  "Node template link": { "daemon → template": ["fork"], "template → daemon": ["forked", "fork_failed", "exit"] },
  "Python template link": { "daemon → template": ["preload", "fork"], "template → daemon": ["ready", "forked", "exit"] },
  "Python child link": { "daemon → child": ["run"], "child → daemon": ["taken", "loaded", "needs_tty", "traced", "exit", "closed", "touched"] },
  "coprocess link": { "coprocess → daemon": ["hello", "exit", "error"], "daemon → coprocess": ["run", "wait"] },
  "run link": { "runner → daemon": ["taken", "exit"] },
  "coprocess client link": { "runner → shim": ["started", "exit"] },
} as const;

// The compiler's half of the check: each list above names exactly its union's types.
type Listed<L extends keyof typeof SPEC_MESSAGES, D extends keyof (typeof SPEC_MESSAGES)[L]> = (typeof SPEC_MESSAGES)[L][D] extends readonly (infer T)[] ? T : never;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const listsMatchUnions: [
  Same<Listed<"client link", "shim → daemon">, ShimToDaemon["t"]>,
  Same<Listed<"client link", "daemon → shim">, DaemonToShim["t"]>,
  Same<Listed<"runtime link", "daemon → warm">, DaemonToWarm["t"]>,
  Same<Listed<"runtime link", "warm → daemon">, WarmToDaemon["t"]>,
  Same<Listed<"Node template link", "daemon → template">, DaemonToNodeTemplate["t"]>,
  Same<Listed<"Node template link", "template → daemon">, NodeTemplateToDaemon["t"]>,
  Same<Listed<"Python template link", "daemon → template">, DaemonToPythonTemplate["t"]>,
  Same<Listed<"Python template link", "template → daemon">, PythonTemplateToDaemon["t"]>,
  Same<Listed<"Python child link", "daemon → child">, DaemonToPythonChild["t"]>,
  Same<Listed<"Python child link", "child → daemon">, PythonChildToDaemon["t"]>,
  Same<Listed<"coprocess link", "coprocess → daemon">, CoprocessToDaemon["t"]>,
  Same<Listed<"coprocess link", "daemon → coprocess">, DaemonToCoprocess["t"]>,
  Same<Listed<"run link", "runner → daemon">, RunnerToDaemon["t"]>,
  Same<Listed<"coprocess client link", "runner → shim">, RunnerToShim["t"]>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true];
void listsMatchUnions;
