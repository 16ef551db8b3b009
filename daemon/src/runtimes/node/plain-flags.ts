// What a Node template needs to stamp code caches as a plain `node` does
// (daemon/addon/flag_hash.c): the flags where a plain node's values differ
// from a template's (--single-threaded and what it implies, the young
// generation floor), and the cache tag a plain node computes. Asked of each
// node binary once, in the background: a template started before the
// answer is retired once it is in (the runtime's `learned`).
import { execFile } from "node:child_process";
import { TEMPLATE_FLAGS } from "../../inside-node/fresh-state";
import type { Logger } from "../../log";

export interface PlainFlags {
  /** Flag settings, space separated, as `v8.setFlagsFromString` takes them. */
  flags: string;
  /** `v8.cachedDataVersionTag()` of a plain node. */
  tag: number;
}

const FLAG = /^--[a-z0-9-]+(=\d+)?$/;

export class PlainFlagsProbe {
  private readonly known = new Map<string, PlainFlags | null>();
  private readonly asked = new Set<string>();

  /** `learned`: called once the answer for a node binary is in (not when none could be had). */
  constructor(private readonly log: Logger, private readonly learned: (nodeExe: string) => void) {}

  /** The answer for `nodeExe` if it is in; asks for it otherwise. */
  get(nodeExe: string): PlainFlags | null {
    const answer = this.known.get(nodeExe);
    if (answer !== undefined) return answer;
    if (!this.asked.has(nodeExe)) {
      this.asked.add(nodeExe);
      void this.ask(nodeExe).then((got) => {
        this.known.set(nodeExe, got);
        if (got) {
          this.log.info({ node: nodeExe, tag: got.tag }, "learned a plain node's flags: templates stamp code caches as it does");
          this.learned(nodeExe);
        }
        else this.log.info({ node: nodeExe }, "could not learn a plain node's flags: its templates' code caches are stamped with their own flags");
      });
    }
    return null;
  }

  private async ask(nodeExe: string): Promise<PlainFlags | null> {
    // The probes are plain nodes: nothing of the caller's NODE_OPTIONS.
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const run = (args: string[]) =>
      new Promise<string | null>((resolve) => {
        execFile(nodeExe, args, { env, timeout: 10_000, maxBuffer: 4 << 20 }, (error, stdout) => resolve(error ? null : stdout));
      });
    const [plain, template, tag] = await Promise.all([
      run(["--print-flag-values", "-e", "0"]),
      run([...TEMPLATE_FLAGS, "--print-flag-values", "-e", "0"]),
      run(["-p", "require('v8').cachedDataVersionTag()"]),
    ]);
    if (plain === null || template === null || tag === null) return null;
    // One line a flag, in the same order in both.
    const plainLines = plain.split("\n");
    const templateLines = template.split("\n");
    if (plainLines.length !== templateLines.length) return null;
    const differ = plainLines.filter((line, i) => line !== templateLines[i]);
    const tagValue = Number(tag.trim());
    if (differ.length === 0 || !differ.every((line) => FLAG.test(line)) || !Number.isInteger(tagValue)) return null;
    return { flags: differ.join(" "), tag: tagValue };
  }
}
