// daemon-death.test.ts with Node tools served by spawned processes (see helpers/spawn-mode.ts).
import "./helpers/spawn-mode";
import "./daemon-death.test";
