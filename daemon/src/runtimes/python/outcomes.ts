// Learning from a comparison which preloaded modules change what a run
// does. The daemon never sees a run's output, and must never run a tool
// twice, but it does see each run's exit status, and which modules that
// run's template had preloaded. When the same command (same argv bytes,
// cwd, env, umask and terminals) ends with another status than it did
// last time, and the preloaded modules differ between the two runs, the
// modules in the difference are the suspects: warm excludes them for that
// tool from then on. A status that changed for a reason of the user's (a
// file the tool checks was edited) can exclude innocent modules: slower,
// never different. A module whose preloading changes only the output, not
// the status, is not caught this way; imports.py's rules are what keep
// those out (only installed code, loaded as directly).
import { createHash } from "node:crypto";
import type { ExitInfo } from "../../pool";

const COMMANDS_PER_TOOL = 64;

interface Outcome {
  status: string;
  preloaded: Set<string>;
}

export class RunOutcomes {
  private readonly byTool = new Map<string, Map<string, Outcome>>();

  /** The key of a command: everything of a `run` message that a direct run depends on. */
  static commandKey(message: { argv?: unknown; cwd?: unknown; env?: unknown; umask?: unknown }, mask: string): string {
    const hash = createHash("sha256");
    for (const part of [message.argv, message.env]) {
      for (const b of Array.isArray(part) ? part : []) hash.update(Buffer.isBuffer(b) ? b : String(b)).update("\0");
      hash.update("\x01");
    }
    hash.update(String(message.cwd)).update("\0").update(String(message.umask)).update("\0").update(mask);
    return hash.digest("hex");
  }

  /** Notes how a run ended; returns the modules whose preloading changed its status (none usually). */
  judge(toolId: string, command: string, exit: ExitInfo, preloaded: readonly string[]): { suspects: string[]; before: string; now: string } {
    const status = exit.signal !== null ? `signal ${exit.signal}` : `status ${exit.code}`;
    let commands = this.byTool.get(toolId);
    if (!commands) this.byTool.set(toolId, (commands = new Map()));
    const prior = commands.get(command);
    const now = new Set(preloaded);
    commands.delete(command); // re-inserted last: the map keeps the most recent commands
    commands.set(command, { status, preloaded: now });
    if (commands.size > COMMANDS_PER_TOOL) commands.delete(commands.keys().next().value as string);
    if (!prior || prior.status === status) return { suspects: [], before: prior?.status ?? "", now: status };
    const suspects = [...now].filter((m) => !prior.preloaded.has(m)).concat([...prior.preloaded].filter((m) => !now.has(m)));
    return { suspects, before: prior.status, now: status };
  }
}
