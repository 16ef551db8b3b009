// The daemon's side of the argv stand-in (inside-node/stand-ins.ts): what
// the tool's modules asked of process.argv while loading, answered for a
// caller's argv. The answers join the pool's key, so a warm process only
// serves callers whose argv answers every question as its own did.
import type { ArgvQuery } from "../../protocol/message-types";

/** The answer a query gives for a given argv. */
export function answer(q: ArgvQuery, argv: string[]): ArgvQuery[2] {
  const [op, arg] = q;
  if (op === "length") return argv.length;
  if (op === "at") return argv[arg as number] ?? null;
  if (op === "slice") return argv.slice(arg as number);
  return argv[op](arg as string);
}
