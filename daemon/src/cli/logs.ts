// `warm logs [-f] [--json]`: the daemon's log. Its JSON lines (pino) are
// made readable by pino-pretty, loaded only here; -f follows the file as the
// daemon appends (or starts it anew).
import { closeSync, fstatSync, mkdirSync, openSync, readSync, statSync, watch } from "node:fs";
import { basename, dirname } from "node:path";
import { resolvePaths } from "../paths";
import { UsageError, type Context } from "./word";

export const help = `NAME
    warm logs - show the daemon's log

SYNOPSIS
    warm logs [-f] [--json]

DESCRIPTION
    Prints the daemon's log ($XDG_STATE_HOME/warm/daemon.log, else
    ~/.local/state/warm/daemon.log), one readable line per entry with its
    fields below it (pino-pretty; coloured at a terminal). --json prints the
    JSON lines as written. -f keeps printing what the daemon writes next,
    until interrupted.

EXIT STATUS
    0; 1 when there is no log (and no -f).
`;

type Format = (line: string) => string;

function formatter(json: boolean): Format {
  if (json) return (line) => `${line}\n`;
  const { prettyFactory } = require("pino-pretty") as { prettyFactory(o: object): (line: string) => string };
  const pretty = prettyFactory({ colorize: process.stdout.isTTY === true, translateTime: "SYS:yyyy-mm-dd HH:MM:ss.l" });
  return (line) => {
    try {
      return pretty(line);
    } catch {
      return `${line}\n`; // not a JSON line (cut by a full disk): as it is
    }
  };
}

/** Reads the file from `offset`, printing whole lines; returns the offset after the last whole line. */
function readFrom(file: string, offset: number, format: Format): number {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return 0;
  }
  try {
    if (fstatSync(fd).size < offset) offset = 0; // a new, shorter file: from its start
    const buf = Buffer.alloc(1 << 16);
    let pending = Buffer.alloc(0);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, offset + pending.length);
      if (n <= 0) break;
      pending = Buffer.concat([pending, buf.subarray(0, n)]);
      let nl: number;
      while ((nl = pending.indexOf(0x0a)) >= 0) {
        const line = pending.subarray(0, nl).toString("utf8");
        if (line.trim() !== "") process.stdout.write(format(line));
        pending = pending.subarray(nl + 1);
        offset += nl + 1;
      }
    }
  } finally {
    closeSync(fd);
  }
  return offset;
}

export function run(args: string[], _ctx: Context): Promise<number> | number {
  let follow = false;
  let json = false;
  for (const a of args) {
    if (a === "-f" || a === "--follow") follow = true;
    else if (a === "--json") json = true;
    else throw new UsageError(`unknown argument ${a}: warm logs [-f] [--json]`);
  }
  const file = resolvePaths().log;
  const format = formatter(json);
  const exists = statSync(file, { throwIfNoEntry: false }) !== undefined;
  if (follow) mkdirSync(dirname(file), { recursive: true });
  if (!exists && !follow) {
    process.stderr.write(`warm logs: no log yet at ${file} (the daemon writes it once it starts)\n`);
    return 1;
  }
  let offset = readFrom(file, 0, format);
  if (!follow) return 0;
  // The directory is watched, not the file: the daemon may create it anew.
  return new Promise(() => {
    const watcher = watch(dirname(file), (_event, name) => {
      if (name === null || name === basename(file)) offset = readFrom(file, offset, format);
    });
    process.on("SIGINT", () => {
      watcher.close();
      process.exit(0);
    });
  });
}
