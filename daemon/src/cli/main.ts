// Entry for warm's own words that are not on a run's path: the shim execs
// `node dist/cli/main.js --shim <its path> <word> args...`. Each word is
// its own module, loaded only when used.
import { UsageError, type Word } from "./word";

export const WORDS: Record<string, () => Promise<Word>> = {
  link: () => import("./link.js"),
  unlink: () => import("./unlink.js"),
  links: () => import("./links.js"),
  "shell-init": () => import("./shell-init.js"),
  exec: () => import("./exec.js"),
  service: () => import("./service.js"),
  logs: () => import("./logs.js"),
  doctor: () => import("./doctor.js"),
  help: () => import("./help.js"),
  "coprocess-check": () => import("./coprocess-check.js"),
};

async function main(argv: string[]): Promise<number> {
  if (argv[0] !== "--shim" || argv.length < 3) {
    process.stderr.write("warm: this file is run by the warm shim: warm <word> [args...]\n");
    return 2;
  }
  const shim = argv[1];
  const [word, ...args] = argv.slice(2);
  const load = WORDS[word];
  if (!load) {
    process.stderr.write(`warm: unknown word ${word}\n`);
    return 2;
  }
  try {
    return await (await load()).run(args, { shim });
  } catch (error) {
    process.stderr.write(`warm ${word}: ${(error as Error).message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
