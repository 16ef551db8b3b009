// The real-tool corpus, npm's linters and formatters: see test/corpus/ (the
// table, its runner).
import { nodeLintTools } from "./corpus/node-tools";
import { corpusTests } from "./corpus/suite";

corpusTests(nodeLintTools);
