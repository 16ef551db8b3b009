// The part of a caller's environment that goes into a pool's key: the
// variables a runtime always keys on and those its tool's modules were seen
// to read (an unset one counts as a value). Also the environment a new warm
// process starts with: exactly those variables and HOME (see homeFacts),
// or (`wholeEnv`) all of the caller's. For a tool whose modules enumerate
// the environment's names, the whole set of names joins the key (the values
// of those not read stay out of it).
import { existsSync } from "node:fs";
import { envLookup } from "../protocol/messages";

export function keyEnv(entries: Buffer[], isKeyName: (name: string) => boolean, learned: Set<string>, allNames = false, wholeEnv = allNames): { env: NodeJS.ProcessEnv; pairs: string[] } {
  const env: NodeJS.ProcessEnv = {};
  const pairs: string[] = [];
  for (const entry of entries) {
    const eq = entry.indexOf(0x3d);
    if (eq <= 0) continue;
    const name = entry.subarray(0, eq).toString("utf8");
    const keyed = isKeyName(name) || learned.has(name);
    if (!keyed && !allNames && !wholeEnv) continue;
    if (env[name] !== undefined) continue; // the first wins, as getenv and CPython's os.environ have it
    env[name] = entry.subarray(eq + 1).toString("utf8");
    if (keyed) pairs.push(`${name}=${env[name]}`);
    else if (allNames) pairs.push(`${name}\0set`);
  }
  for (const name of learned) if (env[name] === undefined) pairs.push(`${name}\0unset`);
  pairs.sort();
  return { env, pairs };
}

const WARM_PREFIX = Buffer.from("WARM_");

/**
 * The caller's environment without warm's own variables (WARM_EXEC_ID, new
 * in each `warm exec` session, WARM_DEBUG, ...): they tell warm what to do,
 * not the tool. A warm process starts without them, so no module sees them
 * while loading and they are in no key; the run itself gets the caller's
 * whole environment, as a direct run does.
 */
export function withoutWarmVariables(entries: Buffer[]): Buffer[] {
  return entries.filter((entry) => !entry.subarray(0, WARM_PREFIX.length).equals(WARM_PREFIX));
}

/**
 * HOME is not in the key (each test of a suite may have its own): a module
 * that reads it while loading is seen doing so, and HOME joins that tool's
 * key like any variable. What the interpreter itself makes of it while it
 * starts, before any module is watched, is in the key instead: `found`, the
 * module directories under HOME that exist for this caller (Python's user
 * site-packages, Node's ~/.node_modules). A new warm process starts with the
 * caller's HOME, so its start-up finds exactly those.
 */
export function homeFacts(entries: Buffer[], env: NodeJS.ProcessEnv, lookups: (home: string | undefined) => string[]): { found: string[] } {
  const home = envLookup(entries, "HOME");
  if (home !== undefined && env.HOME === undefined) env.HOME = home;
  return { found: lookups(home).filter((dir) => existsSync(dir)) };
}
