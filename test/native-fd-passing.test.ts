// The addon's socket I/O (daemon/addon/fdpass.c, fds.c): fds passed over
// a socketpair, short and blocking reads, full sockets, a Unix listener and
// its peer's credentials. Build it first: npm run build:addon.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { test } from "node:test";
import { native } from "../daemon/src/native";
import { closeAll, collect, isCloexec, isNonblocking, noFdLeftOpen, ready, runNode, tmpDir } from "./helpers/native";
import { until } from "./helpers/warm-env";

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
  const closed = once(child, "close");
  const big = Buffer.alloc(4 << 20, 7);
  native.sendAll(a, big); // blocks this thread (poll) while wc drains it
  native.close(a);
  assert.equal((await out).trim(), String(big.length));
  await closed;
});

// The syscall number /proc/<pid>/syscall shows for a thread blocked in
// poll(2) (glibc's poll is ppoll where the kernel has no poll).
const POLL_SYSCALL: Partial<Record<string, number>> = { x64: 7, arm64: 73, riscv64: 73 };

/** Whether pid's main thread is blocked in poll(2) on a single fd, as the kernel says. */
function pollingOneFd(pid: number): boolean {
  const fields = fs.readFileSync(`/proc/${pid}/syscall`, "utf8").split(" ");
  return Number(fields[0]) === POLL_SYSCALL[process.arch] && fields[2] === "0x1";
}

test(
  "recvBlocking waits for data and then EOF, also on an O_NONBLOCK fd",
  { skip: POLL_SYSCALL[process.arch] === undefined ? `cannot tell from /proc/<pid>/syscall when a thread blocks in poll(2) on ${process.arch}` : false },
  async () => {
    // In a child, so that this process sends the data only once the kernel
    // shows recvBlocking waiting for it.
    const [a, b] = native.socketpair();
    const open = new Set([a, b]);
    const close = (fd: number) => open.delete(fd) && native.close(fd);
    try {
      const r = await runNode(
        "n.setNonblocking(3, true);\nconsole.log('waiting');\n" +
          "console.log(n.recvBlocking(3, 16).data.toString());\nconsole.log(n.recvBlocking(3, 16).data.length);",
        [],
        [a],
        async (pid, out) => {
          close(a);
          await until("recvBlocking to wait in poll(2)", () => out().includes("waiting") && pollingOneFd(pid));
          native.sendAll(b, Buffer.from("hi"));
          close(b);
        },
      );
      assert.deepEqual([r.code, r.stdout], [0, "waiting\nhi\n0\n"], r.stderr);
    } finally {
      for (const fd of open) native.close(fd);
    }
  },
);

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
    if (client && !client.closed) {
      const gone = once(client, "close");
      client.destroy();
      await gone;
    }
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

noFdLeftOpen();
