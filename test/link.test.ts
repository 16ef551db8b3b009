// The daemon's link (daemon/src/link.ts), on a real socketpair: a write the
// socket cannot take now waits, with its own copies of the fds it carries,
// and never blocks the daemon's thread; a bad frame stops the reading but
// the other end closing is still heard, and what it said before it closed is
// read even when a write then fails. Build the addon first.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Link } from "../daemon/src/link";
import { native } from "../daemon/src/native";
import { type Message, MSGPACK } from "../daemon/src/protocol/codec";
import { FrameReader } from "../daemon/src/protocol/frame-reader";
import { closeAll, noFdLeftOpen } from "./helpers/native";

/** Reads `theirs` on the loop until it closes: every frame, with its fds. */
function readAll(fd: number): Promise<{ message: Message; fds: number[] }[]> {
  const reader = new FrameReader(MSGPACK);
  const frames: { message: Message; fds: number[] }[] = [];
  return new Promise((resolve) => {
    const watcher = native.watch(fd, () => {
      for (;;) {
        const got = native.recv(fd, 1 << 20);
        if (got === null) return;
        if (got.data.length === 0) {
          watcher.close();
          return resolve(frames);
        }
        for (const stray of reader.push(got.data, got.fds)) native.close(stray);
        for (let f = reader.next(); f; f = reader.next()) frames.push({ message: f.message, fds: f.fds });
      }
    });
    watcher.start(1);
  });
}

test("a frame the socket cannot take now is queued with copies of its fds, sent in order, then the link closes", async () => {
  const [mine, theirs] = native.socketpair();
  const [pipeR, pipeW] = native.pipe();
  let ended = false;
  const link = new Link(mine, MSGPACK, { frame: () => {}, ended: () => (ended = true), bad: (e) => assert.fail(e) });
  // Far more than a socket buffer holds: the rest waits for the reader, and send returns at once.
  const big = Buffer.alloc(4 << 20, 7);
  link.send({ t: "big", data: big });
  link.send({ t: "fd" }, [pipeW]);
  native.close(pipeW); // the caller's copy: the link keeps its own until the frame is written
  link.send({ t: "last" });
  link.closeWhenSent();
  assert.equal(link.open, true, "nothing is read yet, so the queue is not written yet");
  const frames = await readAll(theirs);
  assert.deepEqual(
    frames.map((f) => [f.message.t, f.fds.length]),
    [["big", 0], ["fd", 1], ["last", 0]],
  );
  assert.ok(Buffer.from(frames[0].message.data as Uint8Array).equals(big));
  const [sent] = frames[1].fds;
  fs.writeSync(sent, "through the link");
  native.close(sent);
  assert.equal(native.readNonblocking(pipeR, 64)?.toString(), "through the link");
  // Every copy of the write end is closed now (the link's included): the read end sees EOF.
  assert.equal(native.readNonblocking(pipeR, 64)?.length, 0);
  assert.equal(link.open, false);
  assert.equal(ended, false, "closing itself is not the other end ending");
  closeAll([pipeR, theirs]);
});

test("a bad frame is reported once and reading stops; the other end closing still ends the link", async () => {
  const [mine, theirs] = native.socketpair();
  const got: string[] = [];
  const ended = new Promise<void>((resolve) => {
    new Link(mine, MSGPACK, {
      frame: (m) => got.push(`frame ${String(m.t)}`),
      ended: () => {
        got.push("ended");
        resolve();
      },
      bad: (e) => got.push(`bad ${(e as { code?: string }).code}`),
    });
  });
  const good = MSGPACK.encode({ t: "ok" });
  // A good frame, a frame of length 0, then a good frame the link must not read.
  native.sendAll(theirs, Buffer.concat([good, Buffer.alloc(4), good]));
  native.close(theirs);
  await ended;
  assert.deepEqual(got, ["frame ok", "bad frame-empty", "ended"]);
});

test("what the peer said before it closed is read, even when a queued write then fails (EPIPE)", async () => {
  // The peer either leaves what the link sent unread, or reads it all; either way its last frame must arrive.
  for (const peerReads of [false, true]) {
    const [mine, theirs] = native.socketpair();
    const got: string[] = [];
    const ended = new Promise<void>((resolve) => {
      const link = new Link(mine, MSGPACK, {
        frame: (m) => got.push(String(m.t)),
        ended: () => {
          got.push("ended");
          resolve();
        },
        bad: (e) => got.push(`bad ${e.message}`),
      });
      link.send({ t: "big", data: Buffer.alloc(4 << 20, 1) }); // more than the socket holds: the rest is queued
    });
    if (peerReads) {
      native.setNonblocking(theirs, true);
      while (native.recv(theirs, 1 << 20) !== null); // the peer empties its receive queue
    }
    native.sendAll(theirs, MSGPACK.encode({ t: "exit", code: 3 }));
    native.close(theirs);
    await ended;
    assert.deepEqual(got, ["exit", "ended"], `peer reads: ${peerReads}`);
  }
});

test("a queued frame's fd copies are closed when the link closes, when the peer goes, and when the write fails", async () => {
  for (const how of ["close", "peer gone", "EPIPE"]) {
    const [mine, theirs] = native.socketpair();
    const [r, w] = native.pipe();
    let done!: () => void;
    const ended = new Promise<void>((resolve) => (done = resolve));
    const link = new Link(mine, MSGPACK, { frame: () => {}, ended: () => done(), bad: (e) => assert.fail(e) });
    link.send({ t: "big", data: Buffer.alloc(4 << 20, 1) });
    link.send({ t: "fd" }, [w]);
    native.close(w); // the caller's copy: only the link's is left
    if (how === "close") {
      link.close();
      native.close(theirs);
    } else {
      if (how === "EPIPE") {
        native.setNonblocking(theirs, true);
        while (native.recv(theirs, 1 << 20) !== null); // room again: the link writes, and the write fails
      }
      native.close(theirs);
      await ended;
    }
    assert.equal(link.open, false, how);
    assert.equal(native.readNonblocking(r, 8)?.length, 0, `${how}: every copy of the write end is closed`);
    native.close(r);
  }
});

const NO_PRLIMIT = spawnSync("prlimit", ["--version"]).error !== undefined && "needs prlimit (util-linux) to lower a process's fd limit";

test("fds cut short (MSG_CTRUNC: out of fds) are a bad frame on the client link; a template's link fails only that frame", { skip: NO_PRLIMIT }, () => {
  // In a process of its own: it lowers its fd limit to leave room for 2 of the 4 fds sent (test/fixtures/link-cut-fds.ts).
  const seen = (how: string): string[] => {
    const r = spawnSync(process.execPath, ["--import", "tsx", join(__dirname, "fixtures", "link-cut-fds.ts"), how], { cwd: join(__dirname, ".."), encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as string[];
  };
  assert.deepEqual(seen("bad-frame"), ["bad: file descriptors were truncated"]);
  assert.deepEqual(seen("fail-frame"), ["forked with 0 fds", "next with 0 fds"], "the frame comes without its fds (closed), and the link reads on");
});

noFdLeftOpen();
