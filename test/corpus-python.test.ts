// The real-tool corpus, Debian's Python CLIs: see test/corpus/ (the table, its runner).
import { pythonTools } from "./corpus/python-tools";
import { corpusTests } from "./corpus/suite";

corpusTests(pythonTools);
