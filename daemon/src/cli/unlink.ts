// `warm unlink TOOL...`: removes warm's links; anything else is left alone.
import { lstatSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { dataDirs } from "./dirs";
import { isWarmLink } from "./install";
import { badName } from "./resolve-tool";
import { UsageError, type Context } from "./word";

export const help = `NAME
    warm unlink - remove warm links

SYNOPSIS
    warm unlink TOOL...

DESCRIPTION
    Removes the link named TOOL from warm's bin directory ($XDG_DATA_HOME/warm/bin,
    else ~/.local/share/warm/bin), so TOOL runs directly again. A file there that
    is not warm's link is left alone.

EXIT STATUS
    0 when every TOOL's link was removed, 1 otherwise.
`;

export function run(args: string[], _ctx: Context): number {
  if (args.length === 0) throw new UsageError("name the tools to unlink: warm unlink TOOL...");
  const dirs = dataDirs();
  let failed = 0;
  for (const name of args) {
    const path = join(dirs.bin, name);
    let why = badName(name);
    if (!why) {
      try {
        lstatSync(path);
        if (!isWarmLink(path)) why = `${path} is not a link of warm's; left alone`;
      } catch {
        why = "not linked";
      }
    }
    if (why) {
      process.stderr.write(`warm unlink: ${name}: ${why}\n`);
      failed++;
      continue;
    }
    unlinkSync(path);
    process.stdout.write(`removed ${path}\n`);
  }
  return failed ? 1 : 0;
}
