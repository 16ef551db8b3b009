// The design floor's server (bench/lib/design-floor.ts), loaded with
// `node -r` before an empty script: like a warm process, it is started
// ahead, blocks inside Node's preload phase until one byte arrives (here
// on a FIFO), then lets Node's own bootstrap run the entry, and reports the
// end of the run (one byte) from its 'exit' event. No daemon, no fds, no
// argv, env or cwd to take on: what is left is the floor of the design.
"use strict";
const fs = require("node:fs");
const { join } = require("node:path");

const dir = process.env.BENCH_FLOOR_DIR;
const req = fs.openSync(join(dir, "req"), fs.constants.O_RDWR);
const rep = fs.openSync(join(dir, "rep"), fs.constants.O_RDWR);
fs.writeFileSync(join(dir, "waiting"), String(process.pid));
fs.readSync(req, Buffer.alloc(1), 0, 1, null);
process.on("exit", () => {
  fs.writeSync(rep, "x");
  fs.unlinkSync(join(dir, "waiting")); // after the timed part: the next prepare starts another
});
