// $XDG_CONFIG_HOME/warm/config.json: read, validated (zod, for messages a
// user can act on), and re-read when its mtime or size changes. A broken
// file never stops runs: the daemon keeps the defaults and `warm status`
// shows the error.
import { readFileSync, statSync } from "node:fs";

export interface PoolSettings {
  /** Warm processes kept ready per key. */
  size: number;
  /** At most this much memory (RSS, MiB) in the pool's ready processes; 0 = no limit. */
  maxMemoryMB: number;
  /** A pool unused this long is dropped with its processes. */
  idleTimeoutMs: number;
}

export interface ToolSettings {
  pool: PoolSettings;
  /** Module ids or paths preloaded in addition to the learned set. */
  preload: string[];
  /** Learned modules whose path contains any of these are never preloaded. */
  exclude: string[];
  /** Extra environment variables that separate warm processes. */
  env: string[];
  /** Run this tool directly, never warm. */
  disable: boolean;
  /** "direct": at a terminal, run it directly (it needs /dev/tty); "warm" (default): warm everywhere. */
  terminal: "warm" | "direct";
  /** A coprocess tool (protocol-spec/coprocess.md): how to start it; null for the built-in runtimes. */
  coprocess: CoprocessSettings | null;
  /** Node tools: "fork" (children of a template) or "spawn" (pre-started processes); unset: as WARM_NODE_MODE says (see runtimes/node/mode.ts). */
  mode?: "fork" | "spawn";
}

export interface CoprocessSettings {
  /** The command that starts the coprocess (default: the tool's executable). */
  command?: string[];
  mode?: "fork" | "serial";
  /** Coprocesses (serial) or ready slots (fork) kept per key; overrides pool.size. */
  pool?: number;
}

export interface Config {
  idleTimeoutMs: number;
  /** A warm process not ready this long after it started is killed; its caller runs directly. */
  preloadTimeoutMs: number;
  maxWarmProcesses: number;
  /** At most this much memory (RSS, MiB) in all ready warm processes together; 0 = no limit. */
  maxMemoryMB: number;
  pool: PoolSettings;
  tools: Record<string, Partial<Omit<ToolSettings, "pool">> & { pool?: Partial<PoolSettings> }>;
}

export const DEFAULT_CONFIG: Config = {
  idleTimeoutMs: 30 * 60_000,
  preloadTimeoutMs: 15_000,
  maxWarmProcesses: 32,
  maxMemoryMB: 0,
  pool: { size: 1, idleTimeoutMs: 15 * 60_000, maxMemoryMB: 0 },
  tools: {},
};

/**
 * Pure validation: JSON text in, config or a readable error out. An unknown
 * key (a typo, a setting of another version) is a warning: the rest of the
 * file still applies.
 */
export function parseConfig(text: string): { config: Config; warnings: string[] } | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { error: `not valid JSON: ${(error as Error).message}` };
  }
  // zod costs ~35 ms to load: only pay it when there is a file to check.
  const { z } = require("zod") as typeof import("zod");
  const strict = schemaOf(z, z.strictObject);
  const checked = strict.safeParse(json);
  const where = (issue: { path: PropertyKey[] }) => issue.path.map(String).join(".") || "(top)";
  const warnings: string[] = [];
  if (!checked.success) {
    const errors: string[] = [];
    for (const issue of checked.error.issues) {
      if (issue.code === "unrecognized_keys") warnings.push(...issue.keys.map((k) => `${where(issue) === "(top)" ? "" : `${where(issue)}.`}${k}: unknown setting, ignored`));
      else errors.push(`${where(issue)}: ${issue.message}`);
    }
    if (errors.length > 0) return { error: [...errors, ...warnings].join("; ") };
  }
  // Unknown keys only: the same schema without them.
  const result = schemaOf(z, z.object).safeParse(json);
  if (!result.success) return { error: result.error.issues.map((issue) => `${where(issue)}: ${issue.message}`).join("; ") };
  const c = result.data;
  const poolOf = (p: { size?: number; idleTimeoutMinutes?: number; maxMemoryMB?: number } | undefined) => ({
    ...(p?.size !== undefined ? { size: p.size } : {}),
    ...(p?.maxMemoryMB !== undefined ? { maxMemoryMB: p.maxMemoryMB } : {}),
    ...(p?.idleTimeoutMinutes !== undefined ? { idleTimeoutMs: p.idleTimeoutMinutes * 60_000 } : {}),
  });
  const tools: Config["tools"] = {};
  for (const [name, t] of Object.entries(c.tools ?? {})) tools[name] = { ...t, pool: poolOf(t.pool) };
  return {
    warnings,
    config: {
      idleTimeoutMs: c.idleTimeoutMinutes !== undefined ? c.idleTimeoutMinutes * 60_000 : DEFAULT_CONFIG.idleTimeoutMs,
      preloadTimeoutMs: c.preloadTimeoutSeconds !== undefined ? c.preloadTimeoutSeconds * 1000 : DEFAULT_CONFIG.preloadTimeoutMs,
      maxWarmProcesses: c.maxWarmProcesses ?? DEFAULT_CONFIG.maxWarmProcesses,
      maxMemoryMB: c.maxMemoryMB ?? DEFAULT_CONFIG.maxMemoryMB,
      pool: { ...DEFAULT_CONFIG.pool, ...poolOf(c.pool) },
      tools,
    },
  };
}

type Zod = typeof import("zod").z;

/** The config's schema, its objects made by `object` (strict: unknown keys are issues; plain: they are dropped). */
function schemaOf(z: Zod, object: Zod["strictObject"] | Zod["object"]) {
  const minutes = z.number().positive().max(7 * 24 * 60);
  const megabytes = z.int().min(0).max(1024 * 1024);
  const pool = object({ size: z.int().min(0).max(16).optional(), idleTimeoutMinutes: minutes.optional(), maxMemoryMB: megabytes.optional() });
  return object({
    idleTimeoutMinutes: minutes.optional(),
    preloadTimeoutSeconds: z.number().positive().max(3600).optional(),
    maxWarmProcesses: z.int().min(1).max(1024).optional(),
    maxMemoryMB: megabytes.optional(),
    pool: pool.optional(),
    tools: z
      .record(
        z.string().min(1),
        object({
          pool: pool.optional(),
          preload: z.array(z.string().min(1)).optional(),
          exclude: z.array(z.string().min(1)).optional(),
          env: z.array(z.string().regex(/^[^=\0]+$/, "an environment variable name")).optional(),
          disable: z.boolean().optional(),
          terminal: z.enum(["warm", "direct"]).optional(),
          coprocess: z
            .strictObject({ command: z.array(z.string().min(1)).min(1).optional(), mode: z.enum(["fork", "serial"]).optional(), pool: z.int().min(1).max(16).optional() })
            .optional(),
          mode: z.enum(["fork", "spawn"]).optional(),
        }),
      )
      .optional(),
  });
}

export function toolSettings(config: Config, names: string[]): ToolSettings {
  const merged: ToolSettings = { pool: { ...config.pool }, preload: [], exclude: [], env: [], disable: false, terminal: "warm", coprocess: null };
  for (const name of names) {
    const t = config.tools[name];
    if (!t) continue;
    Object.assign(merged.pool, t.pool ?? {});
    merged.preload.push(...(t.preload ?? []));
    merged.exclude.push(...(t.exclude ?? []));
    merged.env.push(...(t.env ?? []));
    merged.disable ||= t.disable ?? false;
    if (t.terminal) merged.terminal = t.terminal;
    if (t.coprocess) merged.coprocess = t.coprocess;
    if (t.mode) merged.mode = t.mode;
  }
  return merged;
}

/** Holds the current config and re-reads the file when it changes. */
export class ConfigSource {
  private stamp = "";
  current: Config = DEFAULT_CONFIG;
  error: string | null = null;
  /** Unknown settings in the file, ignored (the rest applies). */
  warnings: string[] = [];

  constructor(private readonly file: string, private readonly onError: (error: string) => void, private readonly onWarning: (warning: string) => void = () => {}) {
    this.refresh();
  }

  /** Cheap enough per request: one stat. */
  refresh(): void {
    let stamp: string;
    try {
      // No config file is the usual case: not an exception (~50 us each).
      const st = statSync(this.file, { throwIfNoEntry: false });
      stamp = st ? `${st.mtimeMs}:${st.size}:${st.ino}` : "none";
    } catch {
      stamp = "none";
    }
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    this.warnings = [];
    if (stamp === "none") {
      this.current = DEFAULT_CONFIG;
      this.error = null;
      return;
    }
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (error) {
      this.error = `${this.file}: ${(error as Error).message}`;
      this.onError(this.error);
      return;
    }
    const parsed = parseConfig(text);
    if ("error" in parsed) {
      this.error = `${this.file}: ${parsed.error}`;
      this.current = DEFAULT_CONFIG;
      this.onError(this.error);
    } else {
      this.error = null;
      this.current = parsed.config;
      this.warnings = parsed.warnings.map((w) => `${this.file}: ${w}`);
      for (const warning of this.warnings) this.onWarning(warning);
    }
  }
}
