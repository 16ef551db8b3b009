// The spec's message tables and the daemon's list of message types
// (daemon/src/protocol/message-types.ts) name the same messages, in the same
// order: a row added to one without the other fails here (the compiler holds
// the list to the TypeScript unions).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { SPEC_MESSAGES } from "../daemon/src/protocol/message-types";

const SPEC = join(__dirname, "..", "protocol-spec");

/** [link, direction, t] for every message row of the spec's tables, in order. */
function specRows(): [string, string, string][] {
  const rows: [string, string, string][] = [];
  let section = "";
  let columns: string[] = [];
  const cell = (s: string) => s.trim().replace(/^`(.*)`$/, "$1");
  for (const line of readFileSync(join(SPEC, "README.md"), "utf8").split("\n")) {
    if (line.startsWith("#")) {
      section = line.replace(/^#+\s*/, "");
      columns = [];
      // The client link's requests are its sections named by their `t`.
      const request = /^### `(\w+)`/.exec(line);
      if (request) rows.push(["client link", "shim → daemon", request[1]]);
      continue;
    }
    if (!line.startsWith("|")) {
      columns = [];
      continue;
    }
    const cells = line.split("|").slice(1, -1).map(cell);
    if (columns.length === 0) {
      columns = cells;
      continue;
    }
    if (cells.every((c) => /^-+$/.test(c))) continue;
    const t = cells[columns.indexOf("t")];
    if (section.startsWith("Replies")) rows.push(["client link", "daemon → shim", t]);
    else if (columns[0] === "direction") {
      const direction = cells[0];
      const link = section === "Runtime link" ? "runtime link" : section.startsWith("Node:") ? "Node template link" : direction.includes("child") ? "Python child link" : "Python template link";
      rows.push([link, direction, t]);
    }
  }
  const links: Record<string, string> = { coprocess: "coprocess link", run: "run link", client: "coprocess client link" };
  for (const line of readFileSync(join(SPEC, "coprocess.md"), "utf8").split("\n")) {
    const cells = line.split("|").slice(1, -1).map(cell);
    if (cells.length >= 4 && links[cells[0]]) rows.push([links[cells[0]], cells[1], cells[2]]);
  }
  return rows;
}

test("every message row of the spec is in the daemon's list of message types, and nothing else is", () => {
  const listed = Object.entries(SPEC_MESSAGES).flatMap(([link, directions]) => Object.entries(directions).flatMap(([direction, types]) => (types as readonly string[]).map((t) => [link, direction, t])));
  const group = (rows: string[][]) => {
    const out: Record<string, string[]> = {};
    for (const [link, direction, t] of rows) (out[`${link}: ${direction}`] ??= []).push(t);
    return out;
  };
  const spec = specRows();
  assert.ok(spec.length > 30, `only ${spec.length} rows read from the spec`);
  assert.deepEqual(group(spec), group(listed));
});
