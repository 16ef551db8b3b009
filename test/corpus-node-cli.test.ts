// The real-tool corpus, npm's smaller CLIs and package managers: see
// test/corpus/ (the table, its runner).
import { nodeCliTools } from "./corpus/node-tools";
import { corpusTests } from "./corpus/suite";

corpusTests(nodeCliTools);
