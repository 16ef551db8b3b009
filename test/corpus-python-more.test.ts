// The real-tool corpus, Debian's Python linters, docs tools, Mercurial and
// highlighters: see test/corpus/ (the table, its runner).
import { pythonMoreTools } from "./corpus/python-tools";
import { corpusTests } from "./corpus/suite";

corpusTests(pythonMoreTools);
