// The real-tool corpus, Debian's Python formatters, linters, type checkers,
// test runners: see test/corpus/ (the table, its runner).
import { pythonLintTools } from "./corpus/python-tools";
import { corpusTests } from "./corpus/suite";

corpusTests(pythonLintTools);
