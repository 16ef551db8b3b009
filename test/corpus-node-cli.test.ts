// The real-tool corpus, npm's minifiers, CSS and Markdown linters and
// converters: see test/corpus/ (the table, its runner).
import { nodeCliTools } from "./corpus/node-tools";
import { corpusTests } from "./corpus/suite";

corpusTests(nodeCliTools);
