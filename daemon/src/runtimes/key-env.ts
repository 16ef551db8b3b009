// The part of a caller's environment that goes into a pool's key: the
// variables a runtime always keys on and those its tool's modules were seen
// to read (an unset one counts as a value). Also the environment a new warm
// process starts with: exactly those variables.
export function keyEnv(entries: Buffer[], isKeyName: (name: string) => boolean, learned: Set<string>): { env: NodeJS.ProcessEnv; pairs: string[] } {
  const env: NodeJS.ProcessEnv = {};
  const pairs: string[] = [];
  for (const entry of entries) {
    const eq = entry.indexOf(0x3d);
    if (eq <= 0) continue;
    const name = entry.subarray(0, eq).toString("utf8");
    if (!isKeyName(name) && !learned.has(name)) continue;
    if (env[name] !== undefined) continue; // the first wins, as getenv and CPython's os.environ have it
    env[name] = entry.subarray(eq + 1).toString("utf8");
    pairs.push(`${name}=${env[name]}`);
  }
  for (const name of learned) if (env[name] === undefined) pairs.push(`${name}\0unset`);
  pairs.sort();
  return { env, pairs };
}
