// What each of warm's own words (daemon/src/cli/<word>.ts) provides.
export interface Context {
  /** The running shim's own path (realpath of /proc/self/exe, as the shim passes it). */
  shim: string;
}

export interface Word {
  /** man-style help: NAME/SYNOPSIS/DESCRIPTION, shown by `warm help <word>`. */
  help: string;
  run(args: string[], ctx: Context): Promise<number> | number;
}

/** A mistake in how a word was called: printed as "warm <word>: message", exit 2. */
export class UsageError extends Error {}
