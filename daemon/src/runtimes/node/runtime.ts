// Node.js in warm: turns a run request into a pool key and a warm process.
//
// The key (what separates warm processes) is everything that can change
// what a Node tool does while it loads, since loading happens before the
// request is known:
//   - the node binary (realpath), its flags, and process.argv0;
//   - the entry script, as given and as its realpath (node is started with
//     it, so process.argv[1] is fixed when the process starts), and warm's
//     preload settings for the tool;
//   - which of fds 0, 1, 2 are terminals (libraries decide on colour at load);
//   - the values of NODE_*, LANG, LANGUAGE, LC_*, TZ, TERM, COLORTERM,
//     FORCE_COLOR, NO_COLOR, CI, PATH, UV_*, LD_*, SSL_CERT_* and OPENSSL_*
//     (node and its libraries read them as they start), of the tool's `env`
//     config, and of every variable a module of the tool was seen to read
//     while loading (learned; unset counts as a value; HOME and TMPDIR only
//     then: a test suite gives each test its own);
//   - ~/.node_modules and ~/.node_libraries, those that exist (node puts
//     them on its global module paths as it starts).
// The daemon runs as the caller's uid, so uid is implicitly part of it.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ToolSettings } from "../../config";
import { Pool, type PoolOwner, RELEARNED, type WarmProcess as WarmHandle } from "../../pool";
import { identify, type Program } from "../program";
import { homeFacts, keyEnv, withoutWarmVariables } from "../key-env";
import type { Prepared, WarmRuntime } from "../runtime";
import { RuntimePools } from "../runtime-pools";
import type { ToolRecord } from "../../preload-store";
import { encodeFrame, MSGPACK } from "../../protocol/codec";
import { FrameReader } from "../../protocol/frame-reader";
import { parseRun, type RunRequest } from "../../protocol/messages";
import { isKeyEnvName, type NodePlan, planNode } from "./plan";
import type { ArgvQuery, NodePreload, NodeRun } from "../../protocol/message-types";
import { answer } from "./argv-answers";
import { resolutionLookups } from "./lookups";
import { Learning, MAX_LEARNING_TRIES } from "../../learning";
import { NodeChild } from "./child";
import { type Installed, installedRule } from "./installed";
import { type ModeChoice, NodeModes } from "./mode";
import { NodeTemplate } from "./template";
import { PlainFlagsProbe } from "./plain-flags";
import { type LaunchSpec, type ProcessHooks, type ReadyInfo, WarmProcess } from "./warm-process";
import { ChangingFiles } from "./changing-files";

// The reason preload.ts gives for a module that threw while loading.
const FAILED = "failed to load";

interface PoolContext {
  plan: NodePlan;
  toolId: string;
  mask: string;
  env: NodeJS.ProcessEnv;
  keyNames: Set<string>;
  settings: ToolSettings;
  /** The tool's arguments of the request that made the pool: its processes start with them, so argv answers match the key. */
  args: string[];
  /** Where its processes start: the caller's directory for a tool that reads cwd while loading. */
  cwd: string;
  /** The key's parts by name, for `warm status`. */
  facets: Record<string, string>;
  /** The template its children are forked from, in fork mode. */
  template: NodeTemplate | null;
  /** How its last process was started, and why. */
  choice: ModeChoice | null;
  /** Which modules are installed code, the only ones preloaded (made when first needed). */
  installed?: Installed;
  /** The request that made the pool, and its caller's directory: its key is computed again when learning changes the tool's keys. */
  request: RunRequest;
  callerCwd: string;
}

interface Keyed {
  key: string;
  plan: NodePlan;
  toolId: string;
  ctx: PoolContext;
}

// Node restores fds 0-2 at exit as it found them at start-up; a warm process
// found other fds, so the shim does it (protocol-spec, `started`).
const RESET_STDIO = true;

export class NodeRuntime extends RuntimePools<PoolContext> implements PoolOwner, WarmRuntime {
  readonly kind = "node";
  private readonly learning = new Learning();
  /** How many modules the tool's last started process preloads. */
  private readonly launchedWith = new Map<string, number>();
  private readonly changing = new ChangingFiles();
  private readonly modes = new NodeModes();
  private readonly plainFlags = new PlainFlagsProbe(this.log, (nodeExe) => this.learnedPlainFlags(nodeExe));

  /** A dropped pool's template ends once its running children have. */
  protected override drop(key: string, pool: Pool, why?: string): void {
    super.drop(key, pool, why);
    this.contexts.get(pool)?.template?.retire();
  }

  prepare(program: Program, request: RunRequest, fds: number[]): Prepared | { direct: string } {
    const keyed = this.key(program, request, fds);
    if ("direct" in keyed) return keyed;
    const { key, plan, toolId, ctx } = keyed;
    if (this.learning.gaveUp(toolId)) return { direct: `warm could not learn to preload this tool safely in ${MAX_LEARNING_TRIES} tries; it runs directly until its files change` };
    let pool = this.pools.get(key);
    if (!pool || pool.closed) {
      pool = new Pool(key, `${plan.toolNames[0]} [${ctx.mask}]`, plan.script, ctx.settings.pool.size, this);
      pool.facets = ctx.facets;
      this.pools.set(key, pool);
      this.contexts.set(pool, ctx);
    }
    pool.size = ctx.settings.pool.size;
    // The config of now decides how its next processes start (mode), not the config it was made under.
    const kept = this.contexts.get(pool);
    if (kept) kept.settings = ctx.settings;
    return { pool, toolId, message: this.runMessage(request, plan), refillDuringRun: this.store.get(toolId).modules.length > 0 };
  }

  /**
   * Runs the request path on a made-up request many times, creating no pool,
   * so V8 has optimized it before the first real caller (a cold daemon spends
   * ~10x longer per request). Costs a few ms once, at daemon start.
   */
  warmUp(script: string, rounds: number): void {
    const frame = encodeFrame({
      t: "run",
      v: 1,
      warm: "",
      argv: [Buffer.from(process.execPath), Buffer.from(script), Buffer.from("--flag")],
      exe: Buffer.from(process.execPath),
      env: Object.entries(process.env).map(([k, v]) => Buffer.from(`${k}=${v}`)),
      cwd: Buffer.from("/"),
      umask: 0o22,
      ids: [0],
      rlimits: Array.from({ length: 18 }, () => -1),
    });
    const fds = [0, 1, 2];
    for (let i = 0; i < rounds; i++) {
      // As a request arrives: framed, decoded, checked, identified, keyed, passed on.
      const reader = new FrameReader(MSGPACK);
      reader.push(frame, []);
      const got = reader.next();
      if (!got) return;
      const request = parseRun(got.message, got.payload);
      const program = identify(request, "/");
      if ("direct" in program) return;
      const keyed = this.key(program, request, fds);
      if ("direct" in keyed) return;
      encodeFrame(this.runMessage(request, keyed.plan));
    }
  }

  private key(program: Program, request: RunRequest, fds: number[]): Keyed | { direct: string } {
    const planned = planNode(program, request);
    if ("direct" in planned) return planned;
    const plan = planned.plan;
    const tool = this.tool(plan.toolNames, [plan.nodeExe, plan.scriptReal], fds);
    if ("direct" in tool) return tool;
    return this.keyOf(plan, request, program.cwd, tool);
  }

  /** The key of a request for what is known of its tool now. */
  private keyOf(plan: NodePlan, request: RunRequest, cwd: string, tool: { settings: ToolSettings; toolId: string; record: ToolRecord; mask: string }): Keyed {
    const { settings, toolId, record, mask } = tool;

    const keyNames = new Set([...record.envNames, ...settings.env]);
    // A warm process starts with the caller's whole environment, as a direct
    // run would: what its modules see of it while loading is tracked (and
    // joins the key), and a module that lists the names lists the caller's.
    const { env, pairs } = keyEnv(withoutWarmVariables(request.env), isKeyEnvName, keyNames, record.enumeratesEnv, true);
    const { found: homeModules } = homeFacts(request.env, env, (home) => (home === undefined ? [] : [join(home, ".node_modules"), join(home, ".node_libraries")]));
    // What the tool's modules asked of process.argv while loading, answered for this caller.
    const args = request.argv.slice(plan.argsFrom).map((a) => a.toString("utf8"));
    const argvNow = [plan.nodeExe, plan.script, ...args];
    const answers = record.argvQuestions.map(([op, arg]) => answer([op, arg, null] as ArgvQuery, argvNow));
    const startIn = record.usesCwd ? cwd : dirname(plan.scriptReal);
    const key = createHash("sha256")
      .update(JSON.stringify([plan.nodeExe, plan.execArgv, plan.argv0, plan.script, plan.scriptReal, mask, pairs, homeModules, answers, record.usesCwd ? cwd : null, settings.preload, settings.exclude]))
      .digest("hex")
      .slice(0, 32);
    const facets = keyFacets(plan, mask, pairs, record.argvQuestions, answers, record.usesCwd ? cwd : null);
    return { key, plan, toolId, ctx: { plan, toolId, mask, env, keyNames, settings, args, cwd: startIn, facets, template: null, choice: null, request, callerCwd: cwd } };
  }

  /**
   * What a process learned changed the tool's keys: each open pool of the
   * tool moves to the key its own first request has now. Its processes
   * start as that request would, so what they showed while preloading (the
   * new facts included) holds for every caller of the new key, a subset of
   * the old key's callers; its ready processes stay usable. A caller who
   * answers the new facts otherwise gets another pool. Moving, rather than
   * letting the pool go, keeps callers that compute the new key from
   * starting over (found with mocha, whose learning made pools back to back).
   */
  private rekey(toolId: string): void {
    const record = this.store.get(toolId);
    for (const [key, pool] of [...this.pools]) {
      const ctx = this.contexts.get(pool);
      if (!ctx || ctx.toolId !== toolId || pool.closed) continue;
      const next = this.keyOf(ctx.plan, ctx.request, ctx.callerCwd, { settings: ctx.settings, toolId, record, mask: ctx.mask });
      if (next.key === key) continue;
      this.pools.delete(key);
      // A template preloaded under the old facts: its children would still be right, but its env may not be the new context's.
      ctx.template?.retire();
      const there = this.pools.get(next.key);
      if (there && !there.closed) {
        pool.close(RELEARNED); // another pool already serves the new key
        continue;
      }
      pool.key = next.key;
      pool.facets = next.ctx.facets;
      this.pools.set(next.key, pool);
      this.contexts.set(pool, { ...next.ctx, choice: ctx.choice, installed: ctx.installed });
    }
  }

  /**
   * A caller may wait for a starting process only if it will be usable: the
   * tool's last one was, preloading no fewer modules (see Learning.trusted),
   * or it preloads nothing yet (a learning run). Otherwise it runs directly
   * at once, at direct speed.
   */
  mayWait(pool: Pool): boolean {
    const ctx = this.contexts.get(pool);
    return !!ctx && (this.learning.trusted(ctx.toolId, this.launchedWith.get(ctx.toolId)) || this.store.get(ctx.toolId).modules.length === 0);
  }

  /**
   * A process started now for a caller loads what a direct run loads, and
   * more: it pays only for the first run of a tool, which teaches warm what
   * it loads, or when it is a fork. Otherwise the caller runs directly while
   * one starts for the next.
   */
  mayStartForCaller(pool: Pool): boolean {
    const ctx = this.contexts.get(pool);
    if (!ctx) return false;
    // A child forked from a template already usable costs a fork, not a start-up: worth waiting for.
    const template = ctx.template;
    if (ctx.choice?.mode === "fork" && template?.usable && template.alive && !template.retired) return true;
    return this.store.get(ctx.toolId).modules.length === 0;
  }

  override canStartMore(pool: Pool): boolean {
    const ctx = this.contexts.get(pool);
    return !!ctx && !this.learning.gaveUp(ctx.toolId) && super.canStartMore(pool);
  }

  override invalidate(tools: Map<string, string[]> | "all"): void {
    super.invalidate(tools);
    if (tools === "all") return;
    for (const [tool, whys] of tools) {
      this.learning.changed(tool);
      this.dropRewriters(tool, this.changing.changed(tool, whys));
    }
  }

  override running(toolId: string, delta: 1 | -1): void {
    super.running(toolId, delta);
    this.changing.running(toolId, delta);
  }

  /** Stops preloading the modules that read a file the tool's runs rewrite. */
  private dropRewriters(tool: string, found: [string, string][]): void {
    const drops = found.filter(([id]) => this.store.get(tool).dropped[id] === undefined);
    if (this.store.addDropped(tool, drops)) this.log.info({ tool, dropped: drops }, "a file read while loading is written by the tool's runs: the modules that read it are not preloaded from now on");
  }

  launch(pool: Pool, forCaller: boolean): WarmHandle | null {
    const ctx = this.contexts.get(pool);
    if (!ctx) return null;
    const record = this.store.get(ctx.toolId);
    // A module dropped for a reason is tried again once the file behind the reason changed.
    const retried = this.store.expireDrops(ctx.toolId);
    if (retried.length > 0) this.log.info({ tool: ctx.plan.scriptReal, modules: retried }, "files changed since these modules were dropped: trying them again");
    const modules = this.preloadList(record, ctx);
    this.launchedWith.set(ctx.toolId, modules.length);
    const files = modules.map(([, id]) => (id.startsWith("file:") ? fileURLToPath(id) : id));
    this.changes.watch(ctx.toolId, [ctx.plan.nodeExe, ...files], resolutionLookups(ctx.plan.scriptReal, files));
    const preload: NodePreload = {
      t: "preload",
      v: 1,
      script: Buffer.from(ctx.plan.script),
      stdio: ctx.mask,
      modules,
      exclude: ctx.settings.exclude,
      main_is_cjs: mainIsCommonJs(ctx.plan.scriptReal),
      // Noting the ES modules a run loads costs next to nothing (esm-reads.ts): every run while learning, and every run of a tool that uses ESM.
      learn_esm: record.esm || record.runs < 3,
    };
    const spec: LaunchSpec = {
      nodeExe: ctx.plan.nodeExe,
      args: [...ctx.plan.execArgv, ctx.plan.script, ...ctx.args],
      argv0: ctx.plan.argv0,
      cwd: ctx.cwd,
      env: ctx.env,
      preload,
      readyTimeoutMs: this.config().preloadTimeoutMs,
    };
    // A tool with flags of its own (on its command line, in NODE_OPTIONS) stamps its code caches with them: its templates stamp as they are.
    const plain = this.stampsPlain(ctx) ? this.plainFlags.get(ctx.plan.nodeExe) : null;
    const choice = this.modes.choose(ctx.toolId, ctx.settings.mode, record.runs < 2);
    if (choice.mode !== ctx.choice?.mode) this.log.info({ tool: pool.label, mode: choice.mode, why: choice.why }, "node pool mode");
    ctx.choice = choice;
    try {
      if (choice.mode === "spawn") {
        ctx.template?.retire();
        ctx.template = null;
        // A caller waiting for it (a tool's first run) would wait for its rehearsal and collection too.
        return new WarmProcess({ ...spec, preload: { ...spec.preload, caller_waits: forCaller } }, this.log, this.hooks(ctx, null));
      }
      let template = ctx.template;
      if (!template || template.retired || !template.alive) {
        template = this.startTemplate(pool, ctx, plain ? { ...spec, preload: { ...preload, plain_flags: plain.flags, plain_tag: plain.tag } } : spec);
        ctx.template = template;
      }
      const child = new NodeChild(template, this.log, this.hooks(ctx, template));
      void child.ready.then((ok) => {
        if (ok || child.failure?.code !== "ENOTSAFE") return;
        this.modes.noteCannotFork(ctx.toolId, child.failure.why);
        template.retire();
        this.log.warn({ tool: pool.label, why: child.failure.why }, "node template cannot fork: spawned processes from now on");
      });
      return child;
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, "could not start a warm process");
      return null;
    }
  }

  private hooks(ctx: PoolContext, template: NodeTemplate | null): Omit<ProcessHooks, "templateFrame"> {
    return {
      loaded: (reported) => {
        // Only installed code is learned: the project's own modules load in the run, as directly.
        const installed = this.installed(ctx);
        const loaded = reported.filter(([, id]) => installed(id));
        // New modules: the next template preloads them; this one ends with its children.
        if (this.store.addLoaded(ctx.toolId, loaded, ctx.plan.scriptReal) && template && ctx.template === template) template.retire();
      },
      needsTty: () => {
        if (this.store.mark(ctx.toolId, "needsTty")) this.log.info({ tool: ctx.plan.scriptReal }, "tool opens /dev/tty: runs directly at a terminal from now on");
      },
      cost: (us) => this.modes.noteCost(ctx.toolId, us),
    };
  }

  /** A tool that may stamp caches as a plain node does (see plain-flags.ts): one with no node flags of its own. */
  private stampsPlain(ctx: PoolContext): boolean {
    return ctx.plan.execArgv.length === 0 && !ctx.env.NODE_OPTIONS;
  }

  /** The templates of `nodeExe` started before its plain flags were known end once their children have: the next ones stamp caches plainly. */
  private learnedPlainFlags(nodeExe: string): void {
    for (const pool of this.pools.values()) {
      const ctx = this.contexts.get(pool);
      if (ctx?.template && !ctx.template.stampsPlain && ctx.plan.nodeExe === nodeExe && this.stampsPlain(ctx)) ctx.template.retire();
    }
  }

  private startTemplate(pool: Pool, ctx: PoolContext, spec: LaunchSpec): NodeTemplate {
    const template = new NodeTemplate(spec, this.log, this.hooks(ctx, null));
    void template.ready.then((info) => {
      if (!info) return;
      if (this.assess(pool, info).usable) template.usable = true;
      else template.retire();
    });
    return template;
  }

  helperPids(pool: Pool): number[] {
    const template = this.contexts.get(pool)?.template;
    return template?.alive ? [template.pid] : [];
  }

  /** A fork-mode template counts against the limits like a Python one (its memory: the process's RSS once ready). */
  helpers(pool: Pool): { count: number; kib: number; idle: boolean } {
    const template = this.contexts.get(pool)?.template;
    if (!template?.alive || template.retired) return { count: 0, kib: 0, idle: false };
    return { count: 1, kib: template.process.rssKiB, idle: ![...template.children.values()].some((c) => c.state === "running") };
  }

  dropIdle(pool: Pool): void {
    this.log.info({ tool: pool.label }, "an idle pool gives way to another under the limits");
    this.drop(pool.key, pool);
  }

  describe(pool: Pool): string {
    const choice = this.contexts.get(pool)?.choice;
    return choice ? `${choice.mode}: ${choice.why}` : "";
  }

  private preloadList(record: ToolRecord, ctx: PoolContext): [string, string][] {
    const entryUrl = pathToFileURL(ctx.plan.scriptReal).href;
    const installed = this.installed(ctx);
    const list: [string, string][] = [];
    for (const [kind, id] of record.modules) {
      // (A record learned before this rule may hold modules of a project.)
      if (record.dropped[id] !== undefined || id === ctx.plan.scriptReal || id === entryUrl || !installed(id)) continue;
      list.push([kind, id]);
    }
    for (const id of ctx.settings.preload) {
      try {
        const resolved = require.resolve(id, { paths: [ctx.plan.scriptReal] });
        if (!list.some((m) => m[1] === resolved)) list.push(["cjs", resolved]);
      } catch {
        this.log.warn({ module: id, tool: ctx.plan.scriptReal }, "configured preload module not found");
      }
    }
    return list;
  }

  private installed(ctx: PoolContext): Installed {
    return (ctx.installed ??= installedRule(ctx.plan.scriptReal, ctx.plan.nodeExe, ctx.env.HOME));
  }

  assess(pool: Pool, ready: object): { usable: boolean; learned: boolean } {
    if ("forked" in ready) return { usable: true, learned: false }; // as good as its template, assessed when it was ready
    const info = ready as ReadyInfo;
    const ctx = this.contexts.get(pool);
    if (!ctx) return { usable: false, learned: false };
    // A module that no longer loads leaves the list; one that captured
    // per-invocation state is never preloaded again.
    const failed = info.dropped.filter(([, why]) => why.startsWith(FAILED));
    let learned = this.store.forget(ctx.toolId, failed.map(([id]) => id));
    // A module that read a variable outside the key saw this process's value
    // (unset), which need not be the caller's: the variable joins the key.
    const fresh = info.envRead.filter((n) => !isKeyEnvName(n) && !ctx.keyNames.has(n));
    // Likewise a question asked of argv that the key does not answer yet.
    const asked = this.store.get(ctx.toolId).argvQuestions;
    const newQuestions = info.argvQueries.filter(([op, arg]) => !asked.some((q) => q[0] === op && q[1] === arg));
    const record = this.store.get(ctx.toolId);
    const cwdNews = info.cwdRead && !record.usesCwd;
    const namesNews = info.envEnumerated && !record.enumeratesEnv;
    if (info.clean && fresh.length === 0 && newQuestions.length === 0 && !cwdNews && !namesNews) {
      // Files its modules read while loading: a change to one makes it stale like a module's.
      // Only a usable process's: one not usable is killed (a template, never forks), and
      // what it read stays no one's (a tool whose module ran the tool's work while
      // loading read the cache file that work rewrites each run: corpus-findings T11).
      this.changes.watch(ctx.toolId, info.filesRead);
      this.dropRewriters(ctx.toolId, this.changing.note(ctx.toolId, info.readBy));
      this.learning.settled(ctx.toolId, this.launchedWith.get(ctx.toolId));
      return { usable: true, learned };
    }
    const drops = info.dropped.filter(([, why]) => !why.startsWith(FAILED));
    learned = this.store.addDropped(ctx.toolId, drops, (ref) => /^loads (\S+), which /.exec(drops.find(([id]) => id === ref)?.[1] ?? "")?.[1] ?? ref) || learned;
    const envChanged = this.store.addEnvNames(ctx.toolId, fresh);
    const argvChanged = this.store.addArgvQuestions(ctx.toolId, newQuestions.map(([op, arg]) => [op, arg]));
    const cwdChanged = info.cwdRead && this.store.mark(ctx.toolId, "usesCwd");
    const namesChanged = info.envEnumerated && this.store.mark(ctx.toolId, "enumeratesEnv");
    if (envChanged || argvChanged || cwdChanged || namesChanged) {
      this.rekey(ctx.toolId);
      learned = true;
    }
    this.learning.unsettled(ctx.toolId);
    this.log.info({ tool: ctx.plan.scriptReal, dropped: info.dropped, env: fresh, argv: newQuestions, envNames: namesChanged }, "warm process not usable; learned from it");
    return { usable: false, learned };
  }

  /**
   * The shim's request goes on as it came (its bytes, not re-encoded: the
   * environment is most of it); the process tells the shim `reset_stdio` itself.
   */
  runMessage(request: RunRequest, plan: NodePlan): NodeRun {
    return { t: "run", v: 1, request: request.payload, script: Buffer.from(plan.script), args_from: plan.argsFrom, reset_stdio: RESET_STDIO };
  }
}

/** Whether node will run this entry as CommonJS (extension, then the nearest package.json "type"). */
function mainIsCommonJs(script: string): boolean {
  if (script.endsWith(".cjs")) return true;
  if (script.endsWith(".mjs")) return false;
  for (let dir = dirname(script); ; dir = dirname(dir)) {
    try {
      return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { type?: string }).type !== "module";
    } catch {
      // no (readable) package.json here: keep looking up
    }
    if (dir === dirname(dir)) return true;
  }
}

/** The parts of a key by name, so `warm status` can say what tells two pools of one tool apart. */
function keyFacets(plan: NodePlan, mask: string, pairs: string[], questions: [string, unknown][], answers: unknown[], cwd: string | null): Record<string, string> {
  const facets: Record<string, string> = { tty: mask, script: plan.script, node: [plan.nodeExe, ...plan.execArgv].join(" ") };
  if (cwd !== null) facets.cwd = cwd;
  const names: string[] = [];
  for (const pair of pairs) {
    const unset = pair.indexOf("\0");
    if (unset >= 0 && pair.endsWith("\0set")) names.push(pair.slice(0, unset));
    else if (unset >= 0) facets[pair.slice(0, unset)] = "unset";
    else facets[pair.slice(0, pair.indexOf("="))] = pair.slice(pair.indexOf("=") + 1);
  }
  if (names.length > 0) facets["env names"] = createHash("sha256").update(names.join("\0")).digest("hex").slice(0, 8);
  questions.forEach(([op, arg], i) => (facets[`argv.${op}(${JSON.stringify(arg)})`] = JSON.stringify(answers[i])));
  return facets;
}
