// The corpus as node:test tests: one test per tool, one daemon for the file.
// Each command must be identical through warm (stdout, stderr, status, files
// written) on every warm run, and run the way the table says (warm, or
// directly for the reason given).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { WarmEnv } from "../helpers/warm-env";
import { CORPUS_PATH, Corpus } from "./runner";
import type { Tool } from "./types";

/** The tool's command is not on the corpus PATH (a Debian package not installed). */
function notInstalled(tool: Tool): boolean {
  const cmd = tool.cases[0].argv[0];
  return !CORPUS_PATH.split(":").some((dir) => existsSync(join(dir, cmd)));
}

/**
 * The daemon's reasons for running a warm tool's run directly while no
 * usable warm process is ready for it: the tool's first runs (learning), or
 * a replacement still starting. Any other reason fails the test.
 */
const LEARNING = /warm learned from it|has proven usable yet|no warm process could be started|no warm process ready|no warm process was ready/;

export function corpusTests(tools: Tool[]): void {
  let w: WarmEnv;
  let corpus: Corpus;
  before(() => {
    w = new WarmEnv();
    corpus = new Corpus(w);
  });
  after(async () => {
    await w.stop();
  });
  for (const tool of tools) {
    const missing = notInstalled(tool);
    test(`${tool.tool} (${tool.from})`, { skip: missing && `${tool.cases[0].argv[0]} is not installed (${tool.from}; README "Setup")` }, async (t) => {
      corpus.prepare(tool);
      const term = corpus.terminal(tool);
      try {
        for (const c of tool.cases) {
          await t.test(c.name, { skip: c.pending && `pending: ${c.pending} (test/corpus/PENDING.md)` }, async () => {
            const r = await corpus.check(tool, c, term);
            assert.deepEqual(r.diffs, [], `${tool.tool} ${c.argv.join(" ")}: warm runs differ from the direct run`);
            if (tool.expect.warm) {
              // While warm learns a tool (its first runs, and the first at a
              // terminal, which is another key), a run may go direct: the
              // process that learned something is not used. Never for another reason.
              assert.match(r.ways, /w/, `${tool.tool} ${c.argv.join(" ")}: runs warm (w) or directly (d); directly because: ${r.why}`);
              assert.ok(r.direct === 0 || LEARNING.test(r.why), `${tool.tool} ${c.argv.join(" ")}: runs ${r.ways} (d: directly because ${r.why})`);
            } else {
              assert.equal(r.warm, 0, `${tool.tool} ${c.argv.join(" ")} runs directly`);
              assert.match(r.why, new RegExp(tool.expect.why), `${tool.tool}: why it runs directly`);
            }
          });
        }
      } finally {
        term.close();
      }
    });
  }
}
