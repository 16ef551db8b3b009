// The real-tool corpus, npm's validators, style compilers and package
// managers: see test/corpus/ (the table, its runner).
import { nodeMoreTools } from "./corpus/node-tools";
import { corpusTests } from "./corpus/suite";

corpusTests(nodeMoreTools);
