// The addon's poll watcher (daemon/addon/watcher.c, lifetime.c): events,
// stop and close, its place in Node's loop (ticks, microtasks, keeping the
// process alive), workers, exceptions. Build it first: npm run build:addon.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import { native } from "../daemon/src/native";
import { ADDON, closeAll, isNonblocking, noFdLeftOpen, ready, runNode } from "./helpers/native";

test("watch: readable and writable events, stop, close, errors", async () => {
  const [a, b] = native.socketpair();
  const events: number[] = [];
  let wake: (() => void) | null = null;
  const w = native.watch(a, (ev) => {
    events.push(ev);
    wake?.();
  });
  const nextEvent = () => new Promise<void>((r) => (wake = r));
  // One full poll phase of the loop: a sentinel fd made readable is reported
  // by the same epoll_wait that would report a's pending events.
  const onePollPhase = async () => {
    const [s1, s2] = native.socketpair();
    const seen = ready(s1, 1);
    native.send(s2, Buffer.from("s"));
    await seen;
    await new Promise((r) => setImmediate(r));
    closeAll([s1, s2]);
  };
  try {
    assert.ok(isNonblocking(a), "uv_poll_init makes the fd non-blocking");
    assert.throws(() => native.watch(a, () => {}), { code: "EEXIST" });

    let next = nextEvent();
    w.start(2);
    await next;
    assert.ok(events.length > 0 && events.every((e) => e === 2), `events: ${events}`);

    w.start(1);
    events.length = 0;
    await onePollPhase();
    assert.deepEqual(events, []);
    next = nextEvent();
    native.send(b, Buffer.from("x"));
    await next;
    assert.ok(events.length > 0 && events.every((e) => e === 1), `events: ${events}`);

    w.stop();
    events.length = 0;
    await onePollPhase();
    assert.deepEqual(events, [], "a stopped watcher fired");
    next = nextEvent();
    w.start(1); // data is still pending
    await next;
    assert.ok(events.length > 0);
    assert.equal(native.recv(a, 8)?.data.toString(), "x");

    w.close();
    w.close();
    w.stop();
    assert.throws(() => w.start(1), { code: "ERR_WATCHER_CLOSED" });
    assert.throws(() => w.start(4), TypeError);
    const { stop } = w;
    assert.throws(() => stop(), TypeError);
    // The fd can be watched again as soon as the old watcher is closed.
    const ev = ready(a, 1);
    native.send(b, Buffer.from("y"));
    assert.equal(await ev, 1);
    assert.equal(native.recv(a, 8)?.data.toString(), "y");
  } finally {
    w.close();
    closeAll([a, b]);
  }
  assert.throws(() => native.watch(-1, () => {}), TypeError);
  assert.throws(() => native.watch(0, 5 as unknown as () => void), TypeError);

  // Regular files cannot be polled; starting on a closed fd throws (libuv
  // itself would abort the process).
  const file = fs.openSync(__filename, "r");
  try {
    assert.throws(() => native.watch(file, () => {}), { code: "EPERM" });
  } finally {
    fs.closeSync(file);
  }
  const [c, d] = native.socketpair();
  const w2 = native.watch(c, () => {});
  closeAll([c, d]);
  assert.throws(() => w2.start(1), { code: "EBADF" });
  w2.close();
});

test("watch callbacks are followed by process.nextTick and microtasks", async () => {
  // Two fds ready in the same loop iteration: ticks and microtasks queued by
  // the first callback must run before the second callback (as with any
  // Node I/O callback), not at some later point.
  const [a, b] = native.socketpair();
  const [c, d] = native.socketpair();
  const order: string[] = [];
  try {
    await new Promise<void>((resolve) => {
      let calls = 0;
      const onReady = (): void => {
        const k = ++calls;
        order.push(`cb${k}`);
        process.nextTick(() => order.push(`tick${k}`));
        queueMicrotask(() => order.push(`micro${k}`));
        if (k === 2) {
          w1.close();
          w2.close();
          setImmediate(resolve);
        }
      };
      const w1 = native.watch(a, onReady);
      const w2 = native.watch(c, onReady);
      w1.start(1);
      w2.start(1);
      native.send(b, Buffer.from("x"));
      native.send(d, Buffer.from("x"));
    });
    assert.deepEqual(order, ["cb1", "tick1", "micro1", "cb2", "tick2", "micro2"]);
  } finally {
    closeAll([a, b, c, d]);
  }
});

test("watchers keep the process alive only while started", async () => {
  const setup = "const [a, b] = n.socketpair(); const w = n.watch(a, () => {}); w.start(1);\n";
  const stopped = await runNode(setup + "w.stop(); console.log('done');");
  assert.deepEqual([stopped.code, stopped.stdout.trim()], [0, "done"], stopped.stderr);

  // Closed in a later turn of the loop (its poll phase has run), the started watcher lets the process end.
  const closed = await runNode(setup + "setImmediate(() => { w.close(); console.log('closed'); });");
  assert.deepEqual([closed.code, closed.stdout.trim()], [0, "closed"], closed.stderr);

  // Many watchers, collected after close; one left stopped but open at exit.
  // Two check phases on, a loop turn's close phase has run every close callback.
  const gc = await runNode(
    setup +
      "for (let i = 0; i < 2000; i++) { const x = n.watch(b, () => {}); x.start(3); x.close(); }\n" +
      "w.stop(); setImmediate(() => setImmediate(() => { globalThis.gc(); setImmediate(() => { globalThis.gc(); console.log('ok'); }); }));",
    ["--expose-gc"],
  );
  assert.deepEqual([gc.code, gc.stdout.trim()], [0, "ok"], gc.stderr);

  // A worker that ends with an active watcher (registered with the kernel by
  // the time the loop reaches its check phase) must tear down cleanly.
  const worker = await runNode(
    "const { Worker } = require('node:worker_threads');\n" +
      `const code = 'const n = require(' + JSON.stringify(${JSON.stringify(ADDON)}) + ');' +\n` +
      "  'const [a] = n.socketpair(); n.watch(a, () => {}).start(1); setImmediate(() => process.exit(0));';\n" +
      "new Worker(code, { eval: true }).on('exit', (c) => console.log('worker exit', c));",
  );
  assert.deepEqual([worker.code, worker.stdout.trim()], [0, "worker exit 0"], worker.stderr);

  // An unref'd timer fires only while something else keeps the loop alive:
  // here, nothing but the started watcher. (The timer is the probe, not a
  // wait: without the watcher the process ends before it is due.)
  const alive = await runNode(setup + "setTimeout(() => { console.log('alive'); process.exit(0); }, 50).unref();");
  assert.deepEqual([alive.code, alive.stdout.trim()], [0, "alive"], "an active watcher should keep the loop alive");
});

test("an exception in a watch callback is an uncaught exception", async () => {
  const r = await runNode(
    "process.on('uncaughtException', (e) => { console.log('caught', e.message); process.exit(0); });\n" +
      "const [a, b] = n.socketpair(); n.watch(a, () => { throw new Error('boom'); }).start(1); n.send(b, Buffer.from('x'));",
  );
  assert.deepEqual([r.code, r.stdout.trim()], [0, "caught boom"], r.stderr);
});

noFdLeftOpen();
