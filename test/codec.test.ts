// The shared protocol vectors, checked against the daemon's codec
// (msgpackr), the Node runtime's own codec, the C shim's codec, and the
// addon's reader of run requests (the same C codec, in a warm process).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { native } from "../daemon/src/native";
import { decodeFrame, encodeFrame, MSGPACK, ProtocolError } from "../daemon/src/protocol/codec";
import { FrameReader } from "../daemon/src/protocol/frame-reader";
import { decodeValue, encodeFrame as wireEncodeFrame, WireError } from "../daemon/src/inside-node/wire";
import { readVectors, render, VECTORS_FILE } from "./helpers/vectors";

const vectors = readVectors();

function wireDecodeFrame(bytes: Buffer) {
  if (bytes.length < 4) throw new WireError("truncated", "no length");
  const n = bytes.readUInt32BE(0);
  if (n === 0) throw new WireError("frame-empty", "empty");
  if (n > 16 * 1024 * 1024) throw new WireError("frame-too-large", "too large");
  if (bytes.length < 4 + n) throw new WireError("truncated", "short");
  if (bytes.length > 4 + n) throw new WireError("trailing-bytes", "extra");
  return decodeValue(bytes.subarray(4));
}

test("there are vectors of both kinds", () => {
  assert.ok(vectors.filter((v) => v.kind === "vector").length >= 10);
  assert.ok(vectors.filter((v) => v.kind === "reject").length >= 10);
});

const codecs = [
  { name: "daemon codec (msgpackr)", decode: decodeFrame, encode: encodeFrame, errorType: ProtocolError },
  { name: "runtime codec (wire.ts)", decode: wireDecodeFrame, encode: wireEncodeFrame, errorType: WireError },
] as const;

for (const codec of codecs) {
  for (const v of vectors) {
    test(`${codec.name}: ${v.kind} ${v.name}`, () => {
      if (v.kind === "vector") {
        const value = codec.decode(v.frame);
        assert.equal(render(value), v.expect);
        // Our encoder's bytes need not match (forms may differ) but must decode the same.
        const again = codec.decode(codec.encode(value as never));
        assert.equal(render(again), v.expect);
      } else {
        assert.throws(
          () => codec.decode(v.frame),
          (error: unknown) => error instanceof codec.errorType && (error as { code: string }).code === v.expect,
        );
      }
    });
  }
}

test("frame reader: fds belong to the frame whose first byte they came with", () => {
  const frame = encodeFrame({ t: "ok" });
  const reader = new FrameReader(MSGPACK);
  assert.deepEqual(reader.push(frame.subarray(0, 3), [10, 11, 12]), []);
  assert.equal(reader.next(), null);
  // fds arriving with a read in which no frame starts are stray: handed back to be closed.
  reader.push(frame.subarray(3, 5), [13]);
  reader.push(frame.subarray(5), []);
  const got = reader.next();
  assert.ok(got);
  assert.deepEqual(got.fds, [10, 11, 12]);
  assert.equal(render(got.message), '{"t": "ok"}');
  assert.deepEqual(reader.takeStray(), [13]);
});

test("frame reader: each frame's payload comes back byte for byte, for the daemon to forward", () => {
  const frames = [encodeFrame({ t: "run", env: [Buffer.from([0xff, 0x3d, 0x00])] }), encodeFrame({ t: "ok" })];
  const reader = new FrameReader(MSGPACK);
  reader.push(Buffer.concat(frames).subarray(0, 7), []);
  reader.push(Buffer.concat(frames).subarray(7), []);
  for (const frame of frames) assert.equal(reader.next()?.payload.toString("hex"), frame.subarray(4).toString("hex"));
  assert.equal(reader.next(), null);
});

test("frame reader: a read that brings earlier frames too gives its fds to the last frame starting in it", () => {
  // A stream socket merges what was sent before the fds into the read that carries them.
  const reader = new FrameReader(MSGPACK);
  reader.push(Buffer.concat([encodeFrame({ t: "a" }), encodeFrame({ t: "b" }), encodeFrame({ t: "c" }).subarray(0, 6)]), [20]);
  reader.push(encodeFrame({ t: "c" }).subarray(6), []);
  assert.deepEqual(reader.next()?.fds, []);
  assert.deepEqual(reader.next()?.fds, []);
  const c = reader.next();
  assert.equal(c?.message.t, "c");
  assert.deepEqual(c?.fds, [20]);
  assert.deepEqual(reader.drainFds(), []);
});

test("frame reader: the fds of a frame that fails to decode stay with the reader, to be closed", () => {
  const reader = new FrameReader(MSGPACK);
  reader.push(Buffer.from([0, 0, 0, 1, 0xc1]), [7, 8, 9]);
  assert.throws(() => reader.next(), (e: unknown) => e instanceof ProtocolError && e.code === "bad-type");
  assert.deepEqual(reader.drainFds(), [7, 8, 9]);
});

test("daemon codec: integers beyond 32 bits are written as msgpack ints, never floats", () => {
  const big = 2 ** 40 + 5;
  const frame = encodeFrame({ t: "x", n: big, list: [1, -(2 ** 35)] });
  assert.equal(frame.includes(0xcb), false, "no float64 marker");
  assert.equal(render(decodeFrame(frame)), `{"t": "x", "n": ${big}, "list": [1, ${-(2 ** 35)}]}`);
  assert.equal(render(wireDecodeFrame(frame)), `{"t": "x", "n": ${big}, "list": [1, ${-(2 ** 35)}]}`);
});

test("frame reader: two frames in one chunk come out one at a time", () => {
  const reader = new FrameReader(MSGPACK);
  reader.push(Buffer.concat([encodeFrame({ t: "a" }), encodeFrame({ t: "b" })]), []);
  assert.equal(reader.next()?.message.t, "a");
  assert.equal(reader.next()?.message.t, "b");
  assert.equal(reader.next(), null);
});

test("C codec passes the same vectors", () => {
  const bin = join(__dirname, "..", "client-shim", "test-vectors");
  const built = spawnSync("make", ["-s", "-C", join(__dirname, "..", "client-shim"), "test-vectors"], { encoding: "utf8" });
  assert.equal(built.status, 0, built.stderr);
  const run = spawnSync(bin, [VECTORS_FILE], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const oks = run.stdout.split("\n").filter((l) => l.startsWith("ok "));
  assert.equal(oks.length, vectors.length, run.stdout);
});

test("the addon's run-request reader passes the vectors a payload can fail or carry", () => {
  // Payload-level rejects (the frame header is the transport's business): the
  // spec's error code, and nothing taken on.
  const payloadRejects = vectors.filter((v) => v.kind === "reject" && v.frame.length >= 4 && v.frame.readUInt32BE(0) === v.frame.length - 4 && !v.expect.startsWith("frame-"));
  assert.ok(payloadRejects.length >= 8);
  for (const v of payloadRejects) {
    assert.throws(() => native.takeRequest(v.frame.subarray(4)), (e: Error & { code?: string }) => e.code === v.expect, v.name);
  }
  // The run vectors: read in a child, whose environment and umask it takes on.
  const runs = vectors.filter((v) => v.kind === "vector" && v.expect.startsWith('{"t": "run"'));
  assert.ok(runs.length >= 2);
  for (const v of runs) {
    const child = spawnSync(process.execPath, ["-e", `
      const { native } = require(${JSON.stringify(join(__dirname, "..", "daemon", "dist", "native.js"))});
      try {
        const got = native.takeRequest(Buffer.from(process.argv[1], "hex"));
        console.log(JSON.stringify({ argv: got.argv, cwd: got.cwd.toString("hex"), env: process.env, umask: process.umask() }));
      } catch (e) { console.log(JSON.stringify({ error: e.code })); }`, v.frame.subarray(4).toString("hex")], { encoding: "utf8" });
    assert.equal(child.status, 0, child.stderr);
    const got = JSON.parse(child.stdout);
    const want = decodeFrame(v.frame) as { argv?: Buffer[]; env?: Buffer[]; cwd?: Buffer; umask?: number };
    if (!want.env || !want.cwd) {
      // A run vector without the fields a warm process needs is not one it can take.
      assert.equal(got.error, "bad-message", v.name);
      continue;
    }
    assert.deepEqual(got, {
      argv: want.argv?.map((a) => a.toString("utf8")),
      cwd: want.cwd.toString("hex"),
      env: Object.fromEntries(want.env.map((e) => e.toString("utf8")).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)])),
      umask: want.umask,
    }, v.name);
  }
});
