// The real-tool corpus, npm's CLIs: see test/corpus/ (the table, its runner).
import { nodeTools } from "./corpus/node-tools";
import { corpusTests } from "./corpus/suite";

corpusTests(nodeTools);
