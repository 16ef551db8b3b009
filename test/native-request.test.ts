// The addon taking on a caller's run request (daemon/addon/take_request.c,
// run_view.c), and its argument checks. Build it first: npm run build:addon.
import assert from "node:assert/strict";
import { test } from "node:test";
import { native } from "../daemon/src/native";
import { encodeFrame } from "../daemon/src/protocol/codec";
import { runNode } from "./helpers/native";

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
