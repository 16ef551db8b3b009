// `warm help [WORD]`: man-style help for each of warm's words.
import { UsageError, type Context } from "./word";

const BUILT_IN: Record<string, string> = {
  status: `NAME
    warm status - show the daemon's state

SYNOPSIS
    warm status [--json]

DESCRIPTION
    Prints the running daemon's version and pid, its runs (warm, direct,
    running), hand-off and run latencies (p50), config errors, and each pool:
    ready and starting warm processes, hits and misses. --json prints the same
    as one JSON document, with the run counters of each warm exec session
    ("exec"). Exits 1 when no daemon runs.
`,
  stop: `NAME
    warm stop - stop the daemon

SYNOPSIS
    warm stop [--now]

DESCRIPTION
    The daemon gives up its socket at once and lets its idle warm processes
    go; tools already running finish, their callers get their status, and
    the daemon exits after the last. The next warm run starts a daemon again
    (or, under the systemd service, the socket starts one).

    --now  ends the running tools instead (SIGKILL); their callers print
           "warm: the daemon was stopped (warm stop --now) while running
           <tool>" and exit 255.
`,
};

export const help = `NAME
    warm help - help for warm's words

SYNOPSIS
    warm help [WORD]

DESCRIPTION
    With a WORD (status, stop, link, unlink, links, shell-init, exec, service,
    logs, doctor, help, coprocess-check), its manual. Without, the list of words (as warm --help).
`;

export async function run(args: string[], _ctx: Context): Promise<number> {
  const [word] = args;
  if (args.length > 1) throw new UsageError("one word at a time: warm help WORD");
  if (word === undefined) {
    process.stdout.write(`warm's words (warm help WORD for each): ${[...Object.keys(BUILT_IN), ...Object.keys((await import("./main.js")).WORDS)].join(", ")}\n`);
    return 0;
  }
  const text = BUILT_IN[word] ?? (await loadHelp(word));
  if (!text) throw new UsageError(`no word ${word} (warm --help lists them)`);
  process.stdout.write(text);
  return 0;
}

async function loadHelp(word: string): Promise<string | null> {
  const { WORDS } = await import("./main.js");
  return Object.hasOwn(WORDS, word) ? (await WORDS[word]()).help : null;
}
