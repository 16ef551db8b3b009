// Where warm's own words keep what they install: the data dir
// ($XDG_DATA_HOME/warm, else ~/.local/share/warm) holds the installed shim
// (libexec/warm), a link to the daemon's files (daemon/), and the links
// directory users put on PATH (bin/).
import { homedir } from "node:os";
import { join } from "node:path";

export interface DataDirs {
  data: string;
  /** The links users put first on PATH: `tool -> <data>/libexec/warm`. */
  bin: string;
  /** The installed shim: a copy of bin/warm that no checkout can move away. */
  shim: string;
  /** <data>/daemon: a symlink to the daemon's files, where the installed shim looks (<root>/daemon/dist/main.js). */
  daemon: string;
}

export function dataDirs(env: NodeJS.ProcessEnv = process.env): DataDirs {
  const xdg = env.XDG_DATA_HOME;
  const data = join(xdg && xdg.startsWith("/") ? xdg : join(env.HOME || homedir(), ".local", "share"), "warm");
  return { data, bin: join(data, "bin"), shim: join(data, "libexec", "warm"), daemon: join(data, "daemon") };
}
