// Tests for the N-API addon (daemon/addon/) through its typed
// loader. Build it first: npm run build:addon.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { once } from "node:events";
import { spawn, spawnSync } from "node:child_process";
import type { Readable } from "node:stream";
import { native } from "../daemon/src/native";
import { encodeFrame } from "../daemon/src/protocol/codec";

const ADDON = path.join(__dirname, "..", "daemon", "addon", "build", "Release", "warm_native.node");
const O_NONBLOCK = 0o4000;
const openFdsAtStart = listFds();

function listFds(): string[] {
  return fs.readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return !fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith("/proc/");
    } catch {
      return false; // the readdir's own fd, already closed
    }
  });
}
const O_CLOEXEC = 0o2000000;

/** open(2) flags of one of our fds, as the kernel reports them (with O_CLOEXEC). */
function fdFlags(fd: number): number {
  const m = /^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
  assert.ok(m, `no flags in /proc/self/fdinfo/${fd}`);
  return parseInt(m[1], 8);
}
const isCloexec = (fd: number): boolean => (fdFlags(fd) & O_CLOEXEC) !== 0;
const isNonblocking = (fd: number): boolean => (fdFlags(fd) & O_NONBLOCK) !== 0;

function closeAll(fds: Iterable<number>): void {
  for (const fd of fds) native.close(fd);
}

/** Resolves with the events of the first watch() callback on fd. */
function ready(fd: number, events = 1): Promise<number> {
  return new Promise((resolve) => {
    const w = native.watch(fd, (ev) => {
      w.close();
      resolve(ev);
    });
    w.start(events);
  });
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "warm-native-"));
}

async function collect(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a CommonJS script in a fresh node with `n` = the addon. */
async function runNode(script: string, args: string[] = []): Promise<RunResult> {
  const child = spawn(process.execPath, [...args, "-e", `const n = require(${JSON.stringify(ADDON)});\n${script}`], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const [stdout, stderr, [code, signal]] = await Promise.all([
    collect(child.stdout),
    collect(child.stderr),
    once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>,
  ]);
  return { code, signal, stdout, stderr };
}

test("fds sent over a socketpair arrive close-on-exec and refer to the same files", () => {
  const [a, b] = native.socketpair();
  const [pr, pw] = native.pipe();
  const [s1, s2] = native.socketpair();
  const dir = tmpDir();
  const file = fs.openSync(path.join(dir, "f"), "w+");
  const got: number[] = [];
  try {
    for (const fd of [pw, file, s1]) native.setCloexec(fd, false);
    assert.equal(isCloexec(pw), false);

    assert.equal(native.send(a, Buffer.from("hello"), [pw, file, s1]), 5);
    const r = native.recv(b, 64);
    assert.ok(r);
    got.push(...r.fds);
    assert.equal(r.data.toString(), "hello");
    assert.equal(r.truncated, false);
    assert.equal(r.fds.length, 3);
    for (const fd of r.fds) {
      assert.ok(isCloexec(fd), `received fd ${fd} is not close-on-exec`);
      assert.ok(![pw, file, s1].includes(fd));
    }
    const [rpw, rfile, rs1] = r.fds;
    assert.deepEqual(
      [native.fdKind(rpw), native.fdKind(rfile), native.fdKind(rs1)],
      ["pipe", "file", "socket"],
    );

    fs.writeSync(rpw, "through the received pipe");
    const buf = Buffer.alloc(100);
    assert.equal(fs.readSync(pr, buf), 25);
    assert.equal(buf.subarray(0, 25).toString(), "through the received pipe");

    assert.equal(fs.fstatSync(rfile).ino, fs.fstatSync(file).ino);
    native.sendAll(rs1, Buffer.from("via rs1"));
    assert.equal(native.recv(s2, 64)?.data.toString(), "via rs1");
  } finally {
    closeAll([a, b, pr, pw, s1, s2, file, ...got]);
    fs.rmSync(dir, { recursive: true });
  }
});

test("recv: EAGAIN gives null, data without fds, short reads, EOF", () => {
  const [a, b] = native.socketpair();
  try {
    assert.equal(native.recv(b, 16), null);
    assert.equal(native.send(a, Buffer.from("abcdef")), 6);
    const r1 = native.recv(b, 4);
    assert.deepEqual(r1, { data: Buffer.from("abcd"), fds: [], truncated: false });
    assert.equal(native.recv(b, 16)?.data.toString(), "ef");
    assert.equal(native.recv(b, 16), null);
    // Empty sends are allowed (and send nothing) when no fds ride on them.
    assert.equal(native.send(a, Buffer.alloc(0)), 0);
    native.close(a);
    const eof = native.recv(b, 16);
    assert.ok(eof);
    assert.equal(eof.data.length, 0);
    assert.deepEqual(eof.fds, []);
  } finally {
    native.close(b);
  }
});

test("recv collects the maximum of 253 fds from one message", () => {
  const [a, b] = native.socketpair();
  const [pr, pw] = native.pipe();
  let got: number[] = [];
  try {
    native.sendAll(a, Buffer.from("x"), new Array<number>(253).fill(pr));
    const r = native.recv(b, 8);
    assert.ok(r);
    got = r.fds;
    assert.equal(r.truncated, false);
    assert.equal(new Set(r.fds).size, 253);
    for (const fd of r.fds) assert.equal(native.fdKind(fd), "pipe");
    assert.throws(() => native.send(a, Buffer.from("x"), new Array<number>(254).fill(pr)), TypeError);
  } finally {
    closeAll([a, b, pr, pw, ...got]);
  }
});

test("send returns -1 when the socket is full; fds need a data byte", () => {
  const [a, b] = native.socketpair();
  try {
    const chunk = Buffer.alloc(65536, 1);
    let total = 0;
    let n: number;
    while ((n = native.send(a, chunk)) > 0) total += n;
    assert.equal(n, -1);
    assert.ok(total > 0);
    let drained = 0;
    for (let r = native.recv(b, 1 << 20); r; r = native.recv(b, 1 << 20)) drained += r.data.length;
    assert.equal(drained, total);
    assert.throws(() => native.send(a, Buffer.alloc(0), [b]), { name: "TypeError" });
  } finally {
    closeAll([a, b]);
  }
});

test("sending to a closed peer throws EPIPE", () => {
  // Node ignores SIGPIPE itself, so this cannot prove MSG_NOSIGNAL; it does
  // prove the error surfaces as an exception with the errno code.
  const [a, b] = native.socketpair();
  native.close(b);
  try {
    assert.throws(() => native.send(a, Buffer.from("x")), (e: NodeJS.ErrnoException) => {
      assert.equal(e.code, "EPIPE");
      assert.equal(e.syscall, "sendmsg");
      assert.match(e.message, /^send: sendmsg: .*\(EPIPE\)$/);
      return true;
    });
    assert.throws(() => native.sendAll(a, Buffer.from("x")), { code: "EPIPE" });
  } finally {
    native.close(a);
  }
});

test("sendAll writes more than the socket buffer to a slow reader", async () => {
  const [a, b] = native.socketpair();
  const child = spawn("wc", ["-c"], { stdio: [b, "pipe", "inherit"] });
  native.close(b);
  assert.ok(child.stdout);
  const out = collect(child.stdout);
  const big = Buffer.alloc(4 << 20, 7);
  native.sendAll(a, big); // blocks this thread (poll) while wc drains it
  native.close(a);
  assert.equal((await out).trim(), String(big.length));
});

test("recvBlocking waits for data and then EOF, also on an O_NONBLOCK fd", async () => {
  const [a, b] = native.socketpair();
  native.setNonblocking(a, true);
  const child = spawn("/bin/sh", ["-c", "sleep 0.2; printf hi"], { stdio: ["ignore", b, "inherit"] });
  native.close(b);
  try {
    const t0 = Date.now();
    const r = native.recvBlocking(a, 16);
    assert.equal(r.data.toString(), "hi");
    assert.ok(Date.now() - t0 >= 100, "recvBlocking returned before the data was sent");
    assert.equal(native.recvBlocking(a, 16).data.length, 0);
  } finally {
    native.close(a);
    if (child.exitCode === null) await once(child, "exit");
  }
});

test("listenUnix + accept give a non-blocking CLOEXEC fd and the peer's credentials", async () => {
  const dir = tmpDir();
  const sock = path.join(dir, "s");
  const lfd = native.listenUnix(sock, 16);
  let client: net.Socket | undefined;
  let peerFd = -1;
  try {
    assert.equal(native.fdKind(lfd), "socket");
    assert.ok(isCloexec(lfd) && isNonblocking(lfd));
    assert.equal(native.accept(lfd), null);
    assert.throws(() => native.listenUnix(sock, 16), { code: "EADDRINUSE" });

    client = net.connect(sock);
    const c = client;
    const connected = once(c, "connect");
    await ready(lfd);
    const peer = native.accept(lfd);
    assert.ok(peer);
    peerFd = peer.fd;
    assert.deepEqual(
      { uid: peer.uid, gid: peer.gid, pid: peer.pid },
      { uid: process.getuid?.(), gid: process.getgid?.(), pid: process.pid },
    );
    assert.ok(isCloexec(peer.fd) && isNonblocking(peer.fd));
    assert.equal(native.accept(lfd), null);

    await connected;
    c.write("ping");
    await ready(peer.fd);
    assert.equal(native.recv(peer.fd, 64)?.data.toString(), "ping");
    const echoed = once(c, "data");
    native.sendAll(peer.fd, Buffer.from("pong"));
    assert.equal(String((await echoed)[0]), "pong");
    c.end();
    await ready(peer.fd);
    assert.equal(native.recv(peer.fd, 64)?.data.length, 0);
  } finally {
    client?.destroy();
    if (peerFd >= 0) native.close(peerFd);
    native.close(lfd);
    fs.rmSync(dir, { recursive: true });
  }
});

test("listenUnix refuses a path longer than sun_path", () => {
  assert.throws(() => native.listenUnix("/tmp/" + "x".repeat(200), 1), (e: NodeJS.ErrnoException) => {
    assert.equal(e.code, "ENAMETOOLONG");
    assert.match(e.message, /^listenUnix: bind \/tmp\/x+: .*\(ENAMETOOLONG\)$/);
    return true;
  });
  assert.throws(() => native.listenUnix("", 1), TypeError);
  assert.throws(() => native.listenUnix("/tmp/a\0b", 1), TypeError);
});

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

  const closed = await runNode(setup + "setTimeout(() => { w.close(); console.log('closed'); }, 30);");
  assert.deepEqual([closed.code, closed.stdout.trim()], [0, "closed"], closed.stderr);

  // Many watchers, collected after close; one left stopped but open at exit.
  const gc = await runNode(
    setup +
      "for (let i = 0; i < 2000; i++) { const x = n.watch(b, () => {}); x.start(3); x.close(); }\n" +
      "w.stop(); setTimeout(() => { globalThis.gc(); setImmediate(() => { globalThis.gc(); console.log('ok'); }); }, 10);",
    ["--expose-gc"],
  );
  assert.deepEqual([gc.code, gc.stdout.trim()], [0, "ok"], gc.stderr);

  // A worker that ends with an active watcher must tear down cleanly.
  const worker = await runNode(
    "const { Worker } = require('node:worker_threads');\n" +
      `const code = 'const n = require(' + JSON.stringify(${JSON.stringify(ADDON)}) + ');' +\n` +
      "  'const [a] = n.socketpair(); n.watch(a, () => {}).start(1); setTimeout(() => process.exit(0), 20);';\n" +
      "new Worker(code, { eval: true }).on('exit', (c) => console.log('worker exit', c));",
  );
  assert.deepEqual([worker.code, worker.stdout.trim()], [0, "worker exit 0"], worker.stderr);

  // An unref'd timer fires only while something else keeps the loop alive:
  // here, nothing but the started watcher.
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

test("openpty gives a 24x80 tty; setWinsize changes it; master reads what the slave writes", async () => {
  const { master, slave } = native.openpty();
  try {
    assert.equal(native.fdKind(slave), "tty");
    assert.ok(isCloexec(master) && isCloexec(slave));
    const size = (): string =>
      spawnSync("stty", ["size"], { stdio: [slave, "pipe", "pipe"] }).stdout.toString().trim();
    assert.equal(size(), "24 80");
    native.setWinsize(master, 40, 132);
    assert.equal(size(), "40 132");

    native.setNonblocking(master, true);
    assert.equal(native.readNonblocking(master, 64), null);
    fs.writeSync(slave, "hi");
    let got = "";
    while (got.length < 2) {
      await ready(master, 1);
      got += native.readNonblocking(master, 64)?.toString() ?? "";
    }
    assert.equal(got, "hi");
    assert.throws(() => native.setWinsize(master, 70000, 1), TypeError);
  } finally {
    closeAll([master, slave]);
  }
  const [pr, pw] = native.pipe();
  try {
    assert.throws(() => native.setWinsize(pr, 1, 1), { code: "ENOTTY" });
  } finally {
    closeAll([pr, pw]);
  }
});

test("fdKind", () => {
  const dir = tmpDir();
  const [pr, pw] = native.pipe();
  const [s1, s2] = native.socketpair();
  const file = fs.openSync(path.join(dir, "f"), "w");
  const dfd = fs.openSync(dir, "r");
  const dev = fs.openSync("/dev/null", "r");
  try {
    assert.deepEqual(
      [pr, pw, s1, file, dfd, dev].map((fd) => native.fdKind(fd)),
      ["pipe", "pipe", "socket", "file", "dir", "char"],
    );
  } finally {
    closeAll([pr, pw, s1, s2, file, dfd, dev]);
    fs.rmSync(dir, { recursive: true });
  }
  assert.equal(native.fdKind(pr), "closed");
  assert.throws(() => native.fdKind(1.5), TypeError);
});

test("pipe, setCloexec, setNonblocking, readNonblocking, close", () => {
  const [r, w] = native.pipe();
  try {
    assert.ok(isCloexec(r) && isCloexec(w));
    assert.ok(!isNonblocking(r));
    // A blocking fd is polled first, so this must not hang.
    assert.equal(native.readNonblocking(r, 16), null);
    native.setNonblocking(r, true);
    assert.ok(isNonblocking(r));
    assert.equal(native.readNonblocking(r, 16), null);
    native.setNonblocking(r, false);
    assert.ok(!isNonblocking(r));
    native.setCloexec(w, false);
    assert.ok(!isCloexec(w));
    native.setCloexec(w, true);
    assert.ok(isCloexec(w));
    assert.throws(() => native.setCloexec(w, 1 as unknown as boolean), TypeError);

    fs.writeSync(w, "abc");
    assert.equal(native.readNonblocking(r, 2)?.toString(), "ab");
    assert.equal(native.readNonblocking(r, 16)?.toString(), "c");
  } finally {
    native.close(w);
  }
  try {
    assert.equal(native.readNonblocking(r, 16)?.length, 0); // EOF
  } finally {
    native.close(r);
  }
  assert.throws(() => native.close(r), (e: NodeJS.ErrnoException) => {
    assert.equal(e.code, "EBADF");
    assert.match(e.message, /^close: close: .*\(EBADF\)$/);
    return true;
  });
  assert.throws(() => native.setNonblocking(r, true), { code: "EBADF" });
});

test("dup2 makes `to` refer to `from`, not close-on-exec", () => {
  const [r, w] = native.pipe();
  const to = fs.openSync("/dev/null", "r");
  try {
    assert.ok(isCloexec(to));
    native.dup2(w, to);
    assert.equal(native.fdKind(to), "pipe");
    assert.ok(!isCloexec(to));
    fs.writeSync(to, "dup");
    assert.equal(native.readNonblocking(r, 16)?.toString(), "dup");
    native.setCloexec(to, true);
    native.dup2(to, to); // same fd: still clears FD_CLOEXEC
    assert.ok(!isCloexec(to));
    assert.throws(() => native.dup2(r + 1000, to), { code: "EBADF" });
  } finally {
    closeAll([r, w, to]);
  }
});

test("lockFile: a second lock fails while the first fd is open", () => {
  const dir = tmpDir();
  const lock = path.join(dir, "lock");
  const fds: number[] = [];
  try {
    const fd1 = native.lockFile(lock);
    fds.push(fd1);
    assert.ok(fd1 >= 0);
    assert.ok(isCloexec(fd1));
    assert.equal(fs.statSync(lock).mode & 0o777, 0o600);
    assert.equal(native.lockFile(lock), -1); // another open file description
    native.close(fds.pop()!);
    const fd2 = native.lockFile(lock);
    fds.push(fd2);
    assert.ok(fd2 >= 0);
    assert.throws(() => native.lockFile(dir), { code: "EISDIR" });
  } finally {
    closeAll(fds);
    fs.rmSync(dir, { recursive: true });
  }
});

test("chdir takes raw path bytes and keeps process.cwd() current", () => {
  const orig = process.cwd();
  const dir = fs.realpathSync(tmpDir());
  const raw = Buffer.concat([Buffer.from(dir + "/"), Buffer.from([0x6e, 0xff, 0x6d])]); // not UTF-8
  fs.mkdirSync(raw);
  try {
    native.chdir(Buffer.from(dir));
    assert.equal(process.cwd(), dir);
    native.chdir(raw);
    assert.deepEqual(fs.realpathSync.native(".", { encoding: "buffer" }), raw);
    assert.throws(() => native.chdir(Buffer.from(path.join(dir, "missing"))), { code: "ENOENT" });
    assert.throws(() => native.chdir(Buffer.from("a\0b")), TypeError);
    assert.throws(() => native.chdir("/tmp" as unknown as Buffer), TypeError);
  } finally {
    native.chdir(Buffer.from(orig));
    fs.rmSync(dir, { recursive: true });
  }
  assert.equal(process.cwd(), orig);
});

test("takeRequest takes on a run request's environment and umask, and reads its argv and cwd", async () => {
  // In a child: the environment and umask of this test process must stay intact.
  const request = encodeFrame({
    t: "run",
    v: 1,
    argv: [Buffer.from("node"), Buffer.from("t.js"), Buffer.from(""), Buffer.from([0xff, 0x41]), Buffer.from("\u00e9")],
    env: ["A=1", [0x42, 0x3d, 0xff, 0x41], "C=\u00e9", "NOEQUALS", "D=x\0y", "E=a=b", "A=2", "EMPTY="].map((e) => Buffer.from(e as string)),
    cwd: Buffer.from("/some where"),
    umask: 0o27,
    exe: Buffer.from("/usr/bin/node"),
  }).subarray(4);
  const r = await runNode(
    `const got = n.takeRequest(Buffer.from(${JSON.stringify(request.toString("hex"))}, "hex"));\n` +
      "console.log(JSON.stringify({ argv: got.argv, cwd: got.cwd.toString(), env: process.env, umask: process.umask() }));",
  );
  assert.equal(r.code, 0, r.stderr);
  // Node decodes environment values and argv as UTF-8, so an invalid byte
  // shows as U+FFFD here, exactly as in a direct run's process.argv; the raw
  // bytes are what C code and exec'd programs see. Entries with a NUL or
  // without '=' cannot come from a real caller and are skipped. Of two
  // entries of one name, the first is the one getenv sees, as when execve
  // passes both to a direct run (and as the daemon keys the run).
  assert.deepEqual(JSON.parse(r.stdout), {
    argv: ["node", "t.js", "", "\ufffdA", "\u00e9"],
    cwd: "/some where",
    env: { A: "1", B: "\ufffdA", C: "\u00e9", E: "a=b", EMPTY: "" },
    umask: 0o27,
  });
});

test("takeRequest rejects a request it cannot take, and changes nothing", () => {
  const umask = process.umask();
  const base = { t: "run", v: 1, argv: [Buffer.from("node")], env: [Buffer.from("X=1")], cwd: Buffer.from("/"), umask: 0o22 };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...base, argv: [] }, /bad-message in argv/],
    [{ ...base, argv: ["node"] }, /bad-message in argv/],
    [{ ...base, env: undefined }, /bad-message in env/],
    [{ ...base, cwd: Buffer.from("relative") }, /bad-message in cwd/],
    [{ ...base, umask: 0o1000 }, /bad-message in umask/],
  ];
  for (const [message, error] of cases) {
    const payload = encodeFrame(Object.fromEntries(Object.entries(message).filter(([, v]) => v !== undefined))).subarray(4);
    assert.throws(() => native.takeRequest(payload), (e: Error & { code?: string }) => error.test(e.message) && e.code === "bad-message", String(error));
  }
  assert.throws(() => native.takeRequest("x" as unknown as Buffer), TypeError);
  assert.ok(process.env.PATH);
  assert.equal(process.umask(), umask);
});

test("argument validation throws TypeError", () => {
  for (const bad of [-1, 1.5, "3", NaN, 2 ** 31, undefined]) {
    assert.throws(() => native.recv(bad as number, 16), TypeError, String(bad));
  }
  assert.throws(() => native.recv(0, 0), TypeError);
  assert.throws(() => native.send(0, "x" as unknown as Buffer), TypeError);
  assert.throws(() => native.send(0, Buffer.from("x"), [0, -2]), /fds\[1\]/);
  assert.throws(() => native.accept(undefined as unknown as number), TypeError);
  assert.throws(() => native.lockFile(5 as unknown as string), TypeError);
});

// Forking: the test runner has threads of its own, so a template of its
// own kind runs each case (test/fixtures/fork-probe.js).
const FORK_PROBE = path.join(__dirname, "fixtures", "fork-probe.js");
function forkProbe(scenario: string, wrap: string[] = []): Record<string, unknown> {
  const [cmd, ...args] = [...wrap, process.execPath, "--single-threaded", FORK_PROBE, scenario];
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "null") as Record<string, unknown>;
}

test("forkChild: the child runs its own loop (timers, async fs, thread pool, promises) in its own process group", () => {
  const got = forkProbe("runs");
  assert.deepEqual(got.said, { read: true, bytes: 8, pid: got.pid, pgid: got.pid });
  assert.equal((got.ended as { code: number }).code, 7);
  assert.equal((got.ended as { pid: number }).pid, got.pid);
  assert.ok((got.ended as { cpuUs: number }).cpuUs > 0);
});

test("forkWait reports a child killed by a signal", () => {
  const got = forkProbe("signal");
  assert.deepEqual({ signal: (got.ended as { signal: number }).signal, said: got.said }, { signal: 9, said: null });
});

test("exitAfterFatal: a child's fatal exception is printed by Node, then the child ends as exitNow does", () => {
  const got = forkProbe("fatal");
  assert.equal((got.ended as { code: number }).code, 1);
  assert.equal(got.said, "exit\nclosed\n");
});

test("forkChild refuses while a thread started after the baseline exists, or a libuv request is in flight", () => {
  for (const [scenario, why] of [["thread", /a thread was started/], ["in-flight", /a libuv request is in flight/]] as const) {
    const got = forkProbe(scenario);
    assert.equal(got.code, "ENOTSAFE", scenario);
    assert.match(String(got.message), why);
  }
});

test("forkChild under a low RLIMIT_NPROC throws EAGAIN, and the template forks again once children are gone", (t) => {
  if (process.getuid?.() !== 0) return t.skip("needs root to run the probe as another uid (RLIMIT_NPROC does not bind root)");
  const got = forkProbe("eagain", ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "prlimit", "--nproc=20"]);
  assert.equal(got.error, "EAGAIN");
  assert.deepEqual(got.again, { ran: true });
});

test("no test left an fd open", async () => {
  await new Promise((r) => setTimeout(r, 50));
  const leaked = listFds().filter((fd) => !openFdsAtStart.includes(fd));
  assert.deepEqual(
    leaked.map((fd) => `${fd} -> ${fs.readlinkSync(`/proc/self/fd/${fd}`)}`),
    [],
  );
});
