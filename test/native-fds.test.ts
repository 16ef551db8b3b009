// The addon's fd and process-state calls (daemon/addon/fds.c, pty.c):
// ptys and window sizes, fd kinds and flags, dup and dup2, lock files, chdir with
// raw bytes. Build it first: npm run build:addon.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { native } from "../daemon/src/native";
import { closeAll, isCloexec, isNonblocking, noFdLeftOpen, ready, tmpDir } from "./helpers/native";

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

test("dup gives a new close-on-exec fd for the same open file", () => {
  const [r, w] = native.pipe();
  const copy = native.dup(w);
  try {
    assert.ok(copy > 2 && copy !== w);
    assert.ok(isCloexec(copy));
    native.close(w);
    fs.writeSync(copy, "copy");
    assert.equal(native.readNonblocking(r, 16)?.toString(), "copy");
    assert.throws(() => native.dup(r + 1000), { code: "EBADF" });
  } finally {
    closeAll([r, copy]);
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

noFdLeftOpen();
