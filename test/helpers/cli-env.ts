// A WarmEnv for warm's own words (link, exec, shell-init, ...): its own data
// dir (XDG_DATA_HOME) and a tools dir holding a Node CLI (mytool) and a Python
// CLI (pytool), with a PATH of tools dir, /usr/bin, /bin (Debian's node and
// python3 first, not a version manager's wrappers).
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { fixture, WarmEnv } from "./warm-env";

export class CliEnv extends WarmEnv {
  readonly data: string;
  readonly tools: string;
  readonly bin: string;

  constructor() {
    super();
    this.data = join(this.dir, "data");
    this.tools = join(this.dir, "tools");
    this.bin = join(this.data, "warm", "bin");
    mkdirSync(this.tools);
    symlinkSync(fixture("shebang-tool"), join(this.tools, "mytool"));
    symlinkSync(fixture("python/py-tool"), join(this.tools, "pytool"));
    this.env.XDG_DATA_HOME = this.data;
    this.env.PATH = `${this.tools}:/usr/bin:/bin`;
  }

  /** The environment with warm's links dir first on PATH, as shell-init makes it. */
  get linkedEnv(): NodeJS.ProcessEnv {
    return { ...this.env, PATH: `${this.bin}:${this.env.PATH}` };
  }

  /** Warm runs the daemon has handed to warm processes (0 with no daemon). */
  warmRuns(): number {
    return this.status()?.runs ?? 0;
  }
}
