// Imported first by the *-spawn test files: the WarmEnvs of the test file
// they import then serve Node tools by pre-started (spawned) processes, as
// WARM_NODE_MODE=spawn or a tool's "mode": "spawn" does, while the file
// itself runs in the default mode (auto: cheap tools fork). Both stay tested.
// Tests of what Node's mode does not change (Python tools) run in the
// original file only (spawnModeCopy()).
process.env.WARM_TEST_NODE_MODE = "spawn";
process.env.WARM_TEST_SPAWN_COPY = "1";
