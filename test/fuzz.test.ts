// 100,000 random and mutated frames, some with missing or extra fds, at
// the daemon's socket: each gets an error reply or a closed connection,
// real invocations keep succeeding throughout, the daemon leaks no fd.
// Seeded, so a failure can be replayed.
import assert from "node:assert/strict";
import { closeSync, openSync, readdirSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { native } from "../daemon/src/native";
import { encodeFrame } from "../daemon/src/protocol/codec";
import { sized } from "./helpers/volume";
import { fixture, NODE, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

const FRAMES = sized(100_000, 1000); // helpers/volume.ts
const SEED = Number(process.env.WARM_FUZZ_SEED ?? 20261121);

/** xorshift32: small, fast, reproducible. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return { int: (n: number) => next() % n, bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => next() & 0xff)) };
}

// Frames to mutate: never `stop` (a valid stop would end the daemon, as it should).
const BASES = [
  encodeFrame({ t: "status", v: 1 }),
  encodeFrame({ t: "run", v: 1, warm: "0.1.0", argv: [Buffer.from("true")], exe: Buffer.from("/bin/true"), env: [Buffer.from("A=b")], cwd: Buffer.from("/"), umask: 18 }),
  encodeFrame({ t: "run", v: 2, argv: [], exe: 7, env: null, cwd: Buffer.from("rel"), umask: -1 }),
];

function frameFor(r: ReturnType<typeof rng>): Buffer {
  switch (r.int(6)) {
    case 0:
      return r.bytes(r.int(64)); // noise
    case 1: {
      const f = Buffer.from(BASES[r.int(BASES.length)]);
      for (let i = 0, n = 1 + r.int(4); i < n; i++) f[r.int(f.length)] ^= 1 << r.int(8); // bit flips
      return f;
    }
    case 2:
      return BASES[r.int(BASES.length)].subarray(0, r.int(BASES[0].length)); // truncated
    case 3: {
      const body = r.bytes(r.int(40)); // a plausible length with a random body
      const head = Buffer.alloc(4);
      head.writeUInt32BE(r.int(3) === 0 ? 0xffffffff : body.length, 0);
      return Buffer.concat([head, body]);
    }
    case 4:
      return Buffer.concat([BASES[r.int(BASES.length)], r.bytes(1 + r.int(8))]); // trailing bytes
    default: {
      const map = Buffer.from([0x81, 0xa1, 0x74, ...r.bytes(1 + r.int(12))]); // a map with a random value
      const head = Buffer.alloc(4);
      head.writeUInt32BE(map.length, 0);
      return Buffer.concat([head, map]);
    }
  }
}

/** Sends one frame (with `fds` copies of /dev/null) and hangs up; resolves when the daemon closes. */
function send(socket: string, frame: Buffer, fds: number[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = connect(socket);
    c.on("error", (e: NodeJS.ErrnoException) => (e.code === "EPIPE" || e.code === "ECONNRESET" ? resolve() : reject(e)));
    c.on("data", () => {});
    c.on("close", () => resolve());
    c.on("connect", () => {
      if (frame.length > 0) {
        try {
          native.sendAll((c as unknown as { _handle: { fd: number } })._handle.fd, frame, fds.length > 0 ? fds : undefined);
        } catch {
          // the daemon already hung up on an earlier byte
        }
      }
      c.end();
    });
  });
}

test(`${FRAMES} fuzzed frames: every one refused cleanly, real runs keep working, no fd leak`, async () => {
  const socket = join(w.runtimeDir, "daemon.sock");
  const ok = () => {
    const r = w.run([NODE, fixture("probe.js"), "quiet", "out", "still right"]);
    assert.equal(r.stdout.toString(), "still right\n");
    assert.equal(r.status, 0);
  };
  // The pool as it will stay (forking, in a mode that forks: a template's link and its child's), so the fd baseline is its.
  await w.warmed("probe.js", ok);
  const daemon = w.status()!.pid;
  const fdCount = () => readdirSync(`/proc/${daemon}/fd`).length;
  const baseline = fdCount();

  const devnull = openSync("/dev/null", "r");
  const r = rng(SEED);
  const inFlight = new Set<Promise<void>>();
  try {
    const run = BASES[1];
    const afterVersion = run.indexOf(Buffer.from("argv")); // mutations past here keep the shim's version
    for (let i = 0; i < FRAMES; i++) {
      let frame: Buffer;
      let fds: number[];
      if (r.int(8) === 0) {
        // A run request with its 3 fds and bytes flipped after the version:
        // it reaches the run parser (a flipped version is a well-formed
        // request from another warm version, which retires the daemon by design).
        frame = Buffer.from(run);
        for (let k = 0, n = 1 + r.int(4); k < n; k++) frame[afterVersion + r.int(frame.length - afterVersion)] ^= 1 << r.int(8);
        fds = [devnull, devnull, devnull];
      } else {
        frame = frameFor(r);
        fds = r.int(4) === 0 ? Array([1, 2, 4][r.int(3)]).fill(devnull) : [];
      }
      const p = send(socket, frame, fds).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= 32) await Promise.race(inFlight);
      if ((i + 1) % Math.ceil(FRAMES / 5) === 0) {
        await Promise.all(inFlight);
        ok();
      }
    }
    await Promise.all(inFlight);
  } finally {
    closeSync(devnull);
  }
  ok();
  assert.equal(w.status()!.pid, daemon, "the same daemon served throughout");
  // Connections the daemon is still closing settle quickly; a leak would not.
  await w.until(`the daemon's fds back to ${baseline} (now ${fdCount()})`, () => fdCount() <= baseline);
});
