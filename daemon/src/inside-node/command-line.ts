// What `ps` shows of a warm Node process (its /proc/pid/cmdline), as chg
// and ssh-agent name theirs: while it waits, what it is
// ("warm: ready for eslint"), not the arguments of the run its pool was made
// for; once it takes a run, exactly what a direct run of that command shows
// (`ps -o args`, `pgrep -f`): node as invoked, its flags, the script and the
// caller's arguments. process.title is left as a direct run has it.
import { basename } from "node:path";
import { native } from "../native";

export function showReady(): void {
  native.setCommandLine(Buffer.from(`warm: ready for ${basename(process.argv[1] ?? "node")}`));
}

/** After the caller's arguments are in process.argv. */
export function showRun(): void {
  const words = [process.argv0, ...process.execArgv, ...process.argv.slice(1)];
  native.setCommandLine(Buffer.from(words.join("\0")));
}
