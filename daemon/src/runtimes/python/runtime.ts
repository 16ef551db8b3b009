// Python in warm: a template process per key imports the tool's modules and
// forks one child per invocation (fresh state every time); a child is
// forked ahead, so a caller finds one waiting.
//
// The key (what separates templates) is everything that changes what a
// Python tool does while its modules load:
//   - the interpreter as executed and its realpath (a venv's python is a
//     symlink whose location decides sys.prefix), argv[0], and its flags;
//   - the mode and target: the script's realpath, `-m` and the module
//     (with cwd, which is sys.path[0]), or `-c` (with cwd: '' on sys.path);
//   - which of fds 0, 1, 2 are terminals;
//   - the values of PYTHON*, LANG, LANGUAGE, LC_*, TZ, PATH, TERM, LD_*,
//     SSL_CERT_*, OPENSSL_*, VIRTUAL_ENV (what the interpreter reads in C or
//     before any module: how it finds modules, its locale and stdio), of the
//     tool's `env` config, and of every variable a module was seen to read
//     while loading (HOME and TMPDIR only then: a test suite gives each test
//     its own, and they should share a template);
//   - the user site-packages base under HOME, when it exists (site.py reads
//     HOME as the interpreter starts);
//   - cwd, when a module read it while loading or PYTHONPATH is relative;
//     the umask, when a module read it while loading (Mercurial does);
//   - warm's preload settings for the tool.
// The interpreter's version is that of the binary, which is watched.
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import type { ToolSettings } from "../../config";
import { ANY } from "../../change-watch";
import { Learning, MAX_LEARNING_TRIES } from "../../learning";
import { type ExitInfo, Pool, type PoolOwner, RELEARNED, type WarmProcess } from "../../pool";
import { envLookup, type RunRequest } from "../../protocol/messages";
import type { PythonRun } from "../../protocol/message-types";
import type { Program } from "../program";
import { homeFacts, keyEnv } from "../key-env";
import type { Prepared, WarmRuntime } from "../runtime";
import { RuntimePools } from "../runtime-pools";
import { PythonChild } from "./child";
import { RunOutcomes } from "./outcomes";
import { isKeyEnvName, planPython, type PythonPlan } from "./plan";
import { Template, type TemplateReady } from "./template";

const FAILED = "failed to load";
/** In a failure's why: it failed after another root's import was taken back (template.py). */
const TAKEN_BACK = "was taken back: tried again without it";
/** A tracer or profiler sees the imports a template did before the run: only a direct run shows it all. */
export const TRACES = "a run of this tool set a tracer or profiler (what it measures includes every import): it runs directly from now on";

interface PoolContext {
  plan: PythonPlan;
  toolId: string;
  mask: string;
  env: NodeJS.ProcessEnv;
  keyNames: Set<string>;
  settings: ToolSettings;
  cwd: string;
  umask: number;
  template: Template | null;
}

export class PythonRuntime extends RuntimePools<PoolContext> implements PoolOwner, WarmRuntime {
  readonly kind = "python";
  private readonly outcomes = new RunOutcomes();
  private readonly learning = new Learning();
  /** Every template alive, for the limits (a let-go one lives on while children of its run). */
  private readonly templates = new Set<Template>();

  /** A dropped pool's template ends once its running children have (it reports how they end). */
  protected override drop(key: string, pool: Pool, why?: string): void {
    super.drop(key, pool, why);
    this.contexts.get(pool)?.template?.retire();
  }

  prepare(program: Program, request: RunRequest, fds: number[]): Prepared | { direct: string } {
    const cwd = program.cwd;
    const planned = planPython(program, request);
    if ("direct" in planned) return planned;
    const plan = planned.plan;
    const tool = this.tool(plan.toolNames, pythonToolId(plan), fds);
    if ("direct" in tool) return tool;
    const { settings, toolId, record, mask } = tool;
    // Its templates kept coming up unusable, each learning something: it runs directly, at direct speed, until its files change.
    if (this.learning.gaveUp(toolId)) return { direct: `warm could not learn to preload this tool safely in ${MAX_LEARNING_TRIES} templates; it runs directly until its files change` };
    if (record.traces) return { direct: TRACES };
    const keyNames = new Set([...record.envNames, ...settings.env]);
    const { env, pairs } = keyEnv(request.env, isKeyEnvName, keyNames);
    const { found: userSite } = homeFacts(request.env, env, (home) => userSiteBases(plan.flags, request.env, home));
    const pythonPath = envLookup(request.env, "PYTHONPATH");
    const relativePath = pythonPath !== undefined && pythonPath.split(":").some((p) => !p.startsWith("/"));
    const keepCwd = plan.mode !== "script" || record.usesCwd || relativePath;
    const key = createHash("sha256")
      .update(JSON.stringify(["python", plan.interpreter, plan.interpreterReal, plan.argv0, plan.flags, plan.mode, plan.target, mask, pairs, userSite,
        keepCwd ? cwd : null, record.usesUmask ? request.umask : null, settings.preload, settings.exclude]))
      .digest("hex")
      .slice(0, 32);
    let pool = this.pools.get(key);
    if (!pool || pool.closed) {
      pool = new Pool(key, `${plan.toolNames[0]} [${mask}]`, plan.target, settings.pool.size, this);
      this.pools.set(key, pool);
      const startIn = keepCwd ? cwd : plan.mode === "script" ? dirname(plan.target) : "/";
      this.contexts.set(pool, { plan, toolId, mask, env, keyNames, settings, cwd: startIn, umask: request.umask, template: null });
    }
    pool.size = settings.pool.size;
    return {
      pool,
      toolId,
      // No reset_stdio in the child's `started`: CPython leaves its fds' flags and the terminal as the tool left them.
      message: { t: "run", v: 1, argv: plan.origArgv, env: request.env, cwd: request.cwd, umask: request.umask, rlimits: request.rlimits, args_from: plan.argsFrom } satisfies PythonRun,
    };
  }

  launch(pool: Pool): WarmProcess | null {
    const ctx = this.contexts.get(pool);
    if (!ctx) return null;
    let template = ctx.template;
    if (!template || template.retired || template.state === "gone") {
      template = this.startTemplate(pool, ctx);
      if (!template) return null;
      ctx.template = template;
    }
    const child = new PythonChild(
      template,
      this.log,
      (loaded) => {
        // New modules: the next template preloads them; this one ends with its children.
        // (With -m, the target package is imported as directly and may be preloaded; a script never is.)
        if (this.store.addLoaded(ctx.toolId, loaded, ctx.plan.mode === "script" ? ctx.plan.target : "") && ctx.template === template) template.retire();
      },
      () => {
        if (this.store.mark(ctx.toolId, "needsTty")) this.log.info({ tool: ctx.plan.target }, "tool opens /dev/tty: runs directly at a terminal from now on");
      },
      () => {
        if (!this.store.mark(ctx.toolId, "traces")) return;
        this.log.info({ tool: ctx.plan.target }, TRACES);
        this.dropTool(ctx.toolId, TRACES);
      },
    );
    void child.exited.then((exit) => this.compare(ctx, template, child.request, exit));
    return child;
  }

  /** Modules whose preloading changed a command's exit status are excluded from then on (outcomes.ts). */
  private compare(ctx: PoolContext, template: Template, request: PythonChild["request"], exit: ExitInfo): void {
    if (!request || (exit.code === null && exit.signal === null)) return;
    const judged = this.outcomes.judge(ctx.toolId, RunOutcomes.commandKey(request, ctx.mask), exit, template.preloaded);
    if (judged.suspects.length === 0) return;
    const why = `preloading it changed a run's exit status (${judged.before}, then ${judged.now} for the same command)`;
    this.store.addDropped(ctx.toolId, judged.suspects.map((m) => [m, why]));
    this.log.info({ tool: ctx.plan.target, excluded: judged.suspects, before: judged.before, now: judged.now }, "a run's status changed with what was preloaded: those modules are no longer preloaded");
    this.dropTool(ctx.toolId, RELEARNED);
  }

  /** Lets go every pool of a tool: what warm knows of it changed. */
  private dropTool(toolId: string, why: string): void {
    for (const [key, pool] of this.pools) if (this.contexts.get(pool)?.toolId === toolId) this.drop(key, pool, why);
  }

  private startTemplate(pool: Pool, ctx: PoolContext): Template | null {
    const record = this.store.get(ctx.toolId);
    const modules = record.modules.filter(([kind, id]) => kind === "py" && record.dropped[id] === undefined);
    for (const id of ctx.settings.preload) if (!modules.some((m) => m[1] === id)) modules.push(["py", id]);
    let template: Template;
    try {
      template = new Template(
        {
          interpreter: ctx.plan.interpreter,
          // CPython takes sys.executable, and from it its prefix (a venv's pyvenv.cfg), from argv[0]: a relative one would
          // be the template's cwd's, and a bare name is looked up on PATH, where warm's own links (warm exec) may come first.
          argv0: ctx.plan.interpreter,
          flags: ctx.plan.flags,
          cwd: ctx.cwd,
          env: ctx.env,
          mask: ctx.mask,
          preload: { t: "preload", v: 1, mode: ctx.plan.mode, target: Buffer.from(ctx.plan.target), modules, exclude: ctx.settings.exclude, umask: ctx.umask },
          readyTimeoutMs: this.config().preloadTimeoutMs,
        },
        this.log,
      );
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, "could not start a python template");
      return null;
    }
    template.preloaded = modules.map(([, id]) => id).filter((id) => !ctx.settings.exclude.some((x) => x && id.includes(x)));
    this.templates.add(template);
    void template.exited.then(() => this.templates.delete(template));
    void template.ready.then((info) => {
      if (!info) return;
      const failed = new Set(info.dropped.filter(([, why]) => why.startsWith(FAILED)).map(([id]) => id));
      template.preloaded = template.preloaded.filter((id) => !failed.has(id));
      if (this.assessTemplate(pool, ctx, info)) template.markUsable();
      else template.retire();
    });
    return template;
  }

  /** Learns from a template's preload; false if it must not fork (its children would differ from a direct run). */
  private assessTemplate(pool: Pool, ctx: PoolContext, info: TemplateReady): boolean {
    const interp = [ctx.plan.interpreterReal];
    const venvCfg = join(dirname(dirname(ctx.plan.interpreter)), "pyvenv.cfg");
    if (existsSync(venvCfg)) interp.push(venvCfg);
    // In sys.path directories, a new module or package named like one imported (its top-level name) could be picked
    // instead: every loaded module's, not only the roots' (a root's imports load through the same search).
    const names = new Set(this.store.get(ctx.toolId).modules.map(([, id]) => id.split(".")[0]));
    for (const file of info.filesRead) {
      for (const dir of info.dirs) if (file.startsWith(`${dir}/`)) names.add(file.slice(dir.length + 1).split("/")[0]);
    }
    const lookups = new Map<string, string[]>(info.dirs.map((dir) => [dir, [...names]]));
    for (const dir of info.dirsListed) lookups.set(dir, [...(lookups.get(dir) ?? []), ANY]);
    this.changes.watch(ctx.toolId, [...interp, ...info.filesRead], lookups);
    // A root that failed to load is not tried again until the tool's files change (invalidate): forgotten, a run
    // would report it again and each template would relearn it. One that failed only after another root was taken
    // back in this template (template.py) stays listed: the next template, without that root, tries it again.
    const failed = info.dropped.filter(([, why]) => why.startsWith(FAILED) && !why.includes(TAKEN_BACK));
    let learned = this.store.addDropped(ctx.toolId, failed);
    const fresh = info.envRead.filter((n) => !isKeyEnvName(n) && !ctx.keyNames.has(n));
    const cwdNews = info.cwdRead && ctx.plan.mode === "script" && !this.store.get(ctx.toolId).usesCwd;
    const umaskNews = info.umaskRead && !this.store.get(ctx.toolId).usesUmask;
    if (info.clean && fresh.length === 0 && !cwdNews && !umaskNews) {
      this.learning.settled(ctx.toolId);
      return true;
    }
    // A template that only showed what the key lacks (an env variable, the cwd, the umask) is no sign the next
    // one, keyed on it, is unusable: callers still wait for it. One that preloaded something it must not is.
    const droppedNow = this.store.addDropped(ctx.toolId, info.dropped.filter(([, why]) => !why.startsWith(FAILED)));
    // One that dropped a root for good and left others to the next template (they failed only after that root's
    // import was taken back) is not a try: the next, without that root, tries them in a clean process. Learning
    // still ends: each such template drops a root no template preloads again. (Counted, a run of roots each failing
    // in another's wake, as ansible's did on its YAML registry, made warm give up after three.)
    const deferred = droppedNow && info.dropped.some(([, why]) => why.startsWith(FAILED) && why.includes(TAKEN_BACK));
    if (!info.clean && deferred) this.learning.doubted(ctx.toolId);
    else if (!info.clean) this.learning.unsettled(ctx.toolId);
    learned = droppedNow || learned;
    const keyChanged = [this.store.addEnvNames(ctx.toolId, fresh), cwdNews && this.store.mark(ctx.toolId, "usesCwd"), umaskNews && this.store.mark(ctx.toolId, "usesUmask")].some(Boolean);
    if (keyChanged) this.drop(pool.key, pool, RELEARNED); // later requests compute the new key and land in a new pool
    else if (learned) pool.learned();
    this.log.info({ tool: ctx.plan.target, dropped: info.dropped, env: fresh, learned: learned || keyChanged }, "python template not usable; learned from it");
    return false;
  }

  /** A tool's files changed: the roots that failed to load are tried again (the change may be what they lacked). */
  override invalidate(tools: Map<string, string[]> | "all"): void {
    const all = [...this.pools.values()].map((pool) => this.contexts.get(pool)?.toolId ?? "");
    super.invalidate(tools);
    for (const tool of new Set(tools === "all" ? all.filter(Boolean) : tools.keys())) {
      this.learning.changed(tool); // it gets its tries again
      const retried = this.store.undrop(tool, (_, why) => why.startsWith(FAILED));
      if (retried.length > 0) this.log.info({ modules: retried }, "files changed since these modules failed to load: trying them again");
    }
  }

  /** A caller waits for a starting template only if it will be usable: the tool's last one was, or it preloads nothing yet. */
  mayWait(pool: Pool): boolean {
    const ctx = this.contexts.get(pool);
    return !!ctx && (this.learning.trusted(ctx.toolId) || this.store.get(ctx.toolId).modules.length === 0);
  }

  /** A child whose template must start first (none yet, or it was let go) is two processes for the limits. */
  override canStartMore(pool: Pool): boolean {
    const ctx = this.contexts.get(pool);
    if (ctx && this.learning.gaveUp(ctx.toolId)) return false;
    const template = ctx?.template;
    return super.canStartMore(pool, !template || template.retired || template.state === "gone" ? 2 : 1);
  }

  helperPids(pool: Pool): number[] {
    const template = this.contexts.get(pool)?.template;
    return template && template.state !== "gone" ? [template.pid] : [];
  }

  helpers(pool: Pool): { count: number; kib: number; idle: boolean } {
    const template = this.contexts.get(pool)?.template;
    if (!template || template.state === "gone" || template.retired) return { count: 0, kib: 0, idle: false };
    return { count: 1, kib: template.rssKiB, idle: !template.serving };
  }

  dropIdle(pool: Pool): void {
    this.log.info({ tool: pool.label }, "an idle pool gives way to another under the limits");
    this.drop(pool.key, pool);
  }

  /**
   * Let-go templates that still have children (running, or ready ones a pool
   * still holds): they count against the limits until they end. One whose
   * children were all let go is on its way out, and counts no more.
   */
  others(): { count: number; kib: number } {
    let count = 0;
    let kib = 0;
    for (const template of this.templates) {
      if (!template.retired || template.state === "gone" || ![...template.children.values()].some((c) => c.state !== "gone" && !c.released)) continue;
      count++;
      kib += template.rssKiB;
    }
    return { count, kib };
  }

  assess(): { usable: boolean; learned: boolean } {
    return { usable: true, learned: false }; // a forked child is as good as its template, assessed above
  }
}

/**
 * The parts of a Python tool's id in the preload store. "roots": its
 * modules are the import graph's roots in start order (imports.py); a
 * record from before, a flat list of every module, is not read as one.
 */
export function pythonToolId(plan: Pick<PythonPlan, "interpreterReal" | "mode" | "target">): string[] {
  return [plan.interpreterReal, plan.mode, plan.target, "roots"];
}

/**
 * Where site.py would look for the user's site-packages (its base's lib/),
 * as the caller's start-up would: none under -s, -I or PYTHONNOUSERSITE;
 * else PYTHONUSERBASE or ~/.local, ~ being HOME or the passwd entry.
 */
function userSiteBases(flags: string[], entries: Buffer[], home: string | undefined): string[] {
  const ignoresEnv = flags.some((f) => /^-[^-]*[EI]/.test(f));
  if (flags.some((f) => /^-[^-]*[sI]/.test(f)) || (!ignoresEnv && envLookup(entries, "PYTHONNOUSERSITE"))) return [];
  const base = (!ignoresEnv && envLookup(entries, "PYTHONUSERBASE")) || join(home ?? userInfo().homedir, ".local");
  return [join(base, "lib")];
}
