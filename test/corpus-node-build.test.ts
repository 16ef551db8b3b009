// The real-tool corpus, npm's bundlers and test runners: see test/corpus/
// (the table, its runner).
import { nodeBuildTools } from "./corpus/node-tools";
import { corpusTests } from "./corpus/suite";

corpusTests(nodeBuildTools);
