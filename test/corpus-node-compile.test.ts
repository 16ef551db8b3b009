// The real-tool corpus, npm's compilers: see test/corpus/ (the table, its runner).
import { nodeCompileTools } from "./corpus/node-tools";
import { corpusTests } from "./corpus/suite";

corpusTests(nodeCompileTools);
