// Coprocesses in warm (protocol-spec/coprocess.md): a tool in any language
// that speaks the coprocess protocol, declared in the config
// (`tools.<name>.coprocess`) or by a `warm: coprocess` comment on the line
// after its shebang. The daemon starts it once per key and hands it each
// invocation; in fork mode one coprocess serves every caller, in serial mode
// the pool keeps as many coprocesses as callers need, one run each at a time.
//
// The key: the command (resolved as the caller's PATH finds it) and its
// realpath, the mode, which of fds 0-2 are terminals, and the values of
// PATH, HOME, LANG, LANGUAGE, LC_*, TZ, TMPDIR, TERM, LD_* and the common
// language variables (RUBY*, GEM_*, BUNDLE_*, PERL*, PYTHON*, LUA_*, GO*), of
// the tool's configured `env`, and of the names its `hello` declared.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { basename, isAbsolute } from "node:path";
import { type CoprocessSettings, toolSettings, type ToolSettings } from "../../config";
import { Pool, type PoolOwner, RELEARNED, type WarmProcess } from "../../pool";
import type { RunRequest } from "../../protocol/messages";
import type { DaemonToCoprocess } from "../../protocol/message-types";
import { keyEnv } from "../key-env";
import { head, type Program, realpathOr, which } from "../program";
import type { Prepared, WarmRuntime } from "../runtime";
import { RuntimePools } from "../runtime-pools";
import { Coprocess, everyCoprocessEnded, type Hello, type Mode } from "./coprocess";
import { CoprocessRun } from "./run";

const KEY_ENV = /^(PATH|HOME|LANG|LANGUAGE|LC_.*|TZ|TMPDIR|TERM|LD_.*|RUBY.*|GEM_.*|BUNDLE_.*|PERL.*|PYTHON.*|LUA_.*|GO.*)$/;
const isKeyName = (name: string) => KEY_ENV.test(name);
// The marker: the line after the shebang, in any of the usual comment styles.
const MARKER = /^[ \t]*(?:#|\/\/|--|;)[ \t]*warm:[ \t]*coprocess(?:[ \t]+(fork|serial))?[ \t]*\r?$/;
// Serial coprocesses per pool at most (callers beyond run directly).
const MAX_SERIAL = 16;

interface PoolContext {
  toolId: string;
  settings: ToolSettings;
  command: string[];
  /** Files whose change restarts the coprocess besides those its hello names. */
  files: string[];
  mode: Mode | null;
  mask: string;
  env: NodeJS.ProcessEnv;
  keyNames: Set<string>;
  coprocesses: Coprocess[];
}

/** The `warm: coprocess [fork|serial]` line after a script's shebang: its mode (null: as the hello says), or undefined if none. */
export function readMarker(exe: string): Mode | null | undefined {
  const buf = head(exe, 512);
  if (buf[0] !== 0x23 || buf[1] !== 0x21) return undefined;
  const lines = buf.toString("utf8").split("\n");
  if (lines.length < 3 && buf.length === 512) return undefined;
  const m = MARKER.exec(lines[1] ?? "");
  return m ? ((m[1] as Mode | undefined) ?? null) : undefined;
}

export class CoprocessRuntime extends RuntimePools<PoolContext> implements PoolOwner, WarmRuntime {
  readonly kind = "coprocess";
  private declared = new WeakMap<Program, { names: string[]; decl: CoprocessSettings }>();

  claim(request: RunRequest, cwd: string): Program | null {
    const exe = request.exe.toString("utf8");
    const word = basename(request.argv[0].toString("utf8"));
    const names = [word, basename(exe), exe];
    let decl = toolSettings(this.config(), names).coprocess;
    if (!decl) {
      const mode = readMarker(exe);
      if (mode === undefined) return null;
      decl = mode ? { mode } : {};
    }
    const program: Program = { kind: "coprocess", exe, cwd, interpreter: exe, argv0: word, words: [], argsBase: 1, scriptFromExe: false };
    this.declared.set(program, { names, decl });
    return program;
  }

  ended(): Promise<void> {
    return everyCoprocessEnded();
  }

  protected override drop(key: string, pool: Pool, why?: string): void {
    super.drop(key, pool, why);
    for (const c of this.contexts.get(pool)?.coprocesses ?? []) c.retire();
  }

  prepare(program: Program, request: RunRequest, fds: number[]): Prepared | { direct: string } {
    const declared = this.declared.get(program);
    if (!declared) return { direct: "not a coprocess" };
    const { names, decl } = declared;
    const words = decl.command ?? [program.exe];
    const found = isAbsolute(words[0]) ? words[0] : which(words[0], request.env, program.cwd);
    if (!found || !existsSync(found)) return { direct: `coprocess command not found: ${words[0]}` };
    const command = [found, ...words.slice(1)];
    const tool = this.tool(names, ["coprocess", ...command], fds);
    if ("direct" in tool) return tool;
    const { settings, toolId, record, mask } = tool;
    const keyNames = new Set([...record.envNames, ...settings.env]);
    const { env, pairs } = keyEnv(request.env, isKeyName, keyNames);
    const mode = decl.mode ?? null;
    const key = createHash("sha256")
      .update(JSON.stringify(["coprocess", command, realpathOr(found), mode, mask, pairs]))
      .digest("hex")
      .slice(0, 32);
    const size = decl.pool ?? settings.pool.size;
    let pool = this.pools.get(key);
    if (!pool || pool.closed) {
      pool = new Pool(key, `${names[0]} [coprocess ${mask}]`, command.join(" "), size, this);
      this.pools.set(key, pool);
      // The executable, the command's interpreter and any script it names.
      const files = [program.exe, found, ...command.slice(1).filter((w) => isAbsolute(w) && existsSync(w))].map(realpathOr);
      this.contexts.set(pool, { toolId, settings, command, files, mode, mask, env, keyNames, coprocesses: [] });
    }
    pool.size = size;
    const b64 = (b: Buffer) => b.toString("base64");
    return {
      pool,
      toolId,
      message: { t: "run", argv: request.argv.map(b64), env: request.env.map(b64), cwd: b64(request.cwd), umask: request.umask } satisfies DaemonToCoprocess,
    };
  }

  launch(pool: Pool): WarmProcess | null {
    const ctx = this.contexts.get(pool);
    if (!ctx) return null;
    ctx.coprocesses = ctx.coprocesses.filter((c) => c.state !== "gone" && !c.retired);
    let c = ctx.coprocesses.find((c) => (c.state === "ready" && c.mode === "fork") || (!c.reserved && !c.busy && (c.state === "starting" || c.mode === "serial")));
    if (!c) {
      if (ctx.coprocesses.length >= MAX_SERIAL) return null;
      try {
        c = new Coprocess({ command: ctx.command, env: ctx.env, mask: ctx.mask, mode: ctx.mode, helloTimeoutMs: this.config().preloadTimeoutMs }, this.log);
      } catch (error) {
        this.log.warn({ err: (error as Error).message, command: ctx.command }, "could not start a coprocess");
        return null;
      }
      ctx.coprocesses.push(c);
    }
    if (c.state === "starting" || c.mode === "serial") c.reserved = true;
    return new CoprocessRun(c, this.log, this.config().preloadTimeoutMs);
  }

  /** Learns from a coprocess's hello: names it declared join the key (a new pool), its files are watched. */
  assess(pool: Pool, info: object): { usable: boolean; learned: boolean } {
    const ctx = this.contexts.get(pool);
    if (!ctx) return { usable: false, learned: false };
    const hello = info as Hello;
    const fresh = hello.env.filter((n) => !isKeyName(n) && !ctx.keyNames.has(n));
    if (fresh.length > 0) {
      this.store.addEnvNames(ctx.toolId, fresh);
      this.drop(pool.key, pool, RELEARNED); // later requests compute the new key and land in a new pool
      this.log.info({ tool: pool.label, env: fresh }, "coprocess declared env names: they join its key");
      return { usable: false, learned: true };
    }
    this.changes.watch(ctx.toolId, [...ctx.files, ...hello.watch.filter((f) => isAbsolute(f))]);
    return { usable: true, learned: false };
  }

  helperPids(pool: Pool): number[] {
    return (this.contexts.get(pool)?.coprocesses ?? []).filter((c) => c.state !== "gone").map((c) => c.pid);
  }

  /**
   * Coprocesses as the limits count them, each once: those no ready slot
   * stands for (a fork-mode coprocess serves all its pool's slots; a serial
   * one neither reserved by a slot nor running, which the running count has).
   */
  helpers(pool: Pool): { count: number; kib: number; idle: boolean } {
    const mine = (this.contexts.get(pool)?.coprocesses ?? []).filter((c) => c.state !== "gone" && !c.retired);
    const counted = mine.filter((c) => c.mode === "fork" || (c.state === "ready" && !c.reserved && !c.busy));
    return { count: counted.length, kib: counted.reduce((sum, c) => sum + c.rssKiB, 0), idle: mine.every((c) => c.outstanding === 0) };
  }

  dropIdle(pool: Pool): void {
    this.log.info({ tool: pool.label }, "an idle coprocess pool gives way to another under the limits");
    this.drop(pool.key, pool);
  }
}
