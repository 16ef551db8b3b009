// The shape of the real-tool corpus: each tool, the project it runs in
// (small files written to a temp dir), and the commands a user types.

/** A field that legitimately differs between two runs (a duration, a timestamp), replaced in both before comparing. */
export interface Normalise {
  re: RegExp;
  to: string;
  why: string;
}

export interface Case {
  /** Short label: what the command does ("check, with errors"). */
  name: string;
  /** The command line; argv[0] is looked up on the corpus PATH (as `warm argv0` does). */
  argv: string[];
  /** Piped to stdin (and redirected from a file in the terminal run). */
  stdin?: string;
  normalise?: Normalise[];
  /** Wrong or much slower through warm today: the entry's title in test/corpus/PENDING.md (the test skips it, saying so). */
  pending?: string;
}

export interface Tool {
  /** The command word users type. */
  tool: string;
  /** Where it comes from: "npm <package>@<version>" or "Debian <package>". */
  from: string;
  runtime: "node" | "python" | "native";
  /** The project the commands run in: path -> content (a trailing "/" makes an empty dir). */
  files: Record<string, string>;
  /** Run once, directly, after the files are written and before anything is compared (hg init). */
  setup?: string[][];
  /**
   * Files under HOME (paths relative to it) whose name or bytes legitimately
   * differ per run, even between two direct runs: the fields replaced
   * before comparing, in the path and the contents (no rules: a binary file
   * whose contents are not compared, only that it is there), and why.
   */
  homeNormalise?: { path: RegExp; rules?: Normalise[]; why: string }[];
  /** Paths (relative to the project) whose contents are not compared and not reset between runs, with why. */
  keep?: { path: string; why: string }[];
  cases: Case[];
  /** How warm runs it: warm, or directly with the reason the shim is given (a substring). */
  expect: { warm: true } | { warm: false; why: string };
}
