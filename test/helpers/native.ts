// What the addon's tests share: fd flags as the kernel reports them, a
// one-shot watch, a script run in a fresh node with the addon loaded, and
// the check that a test file left no fd of its own open.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Readable } from "node:stream";
import { test } from "node:test";
import { native } from "../../daemon/src/native";

export const ADDON = path.join(__dirname, "..", "..", "daemon", "addon", "build", "Release", "warm_native.node");
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

// tsx, which loads these tests, writes its transform cache here in the
// background (fds of its own, open for a moment while a test runs).
const TSX_CACHE = path.join(os.tmpdir(), `tsx-${os.userInfo().uid}`);

function listFds(): string[] {
  return fs.readdirSync("/proc/self/fd").filter((fd) => {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      return !target.startsWith("/proc/") && target !== TSX_CACHE && !target.startsWith(TSX_CACHE + "/");
    } catch {
      return false; // the readdir's own fd, already closed
    }
  });
}

/** open(2) flags of one of our fds, as the kernel reports them (with O_CLOEXEC). */
function fdFlags(fd: number): number {
  const m = /^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
  assert.ok(m, `no flags in /proc/self/fdinfo/${fd}`);
  return parseInt(m[1], 8);
}
export const isCloexec = (fd: number): boolean => (fdFlags(fd) & O_CLOEXEC) !== 0;
export const isNonblocking = (fd: number): boolean => (fdFlags(fd) & O_NONBLOCK) !== 0;

export function closeAll(fds: Iterable<number>): void {
  for (const fd of fds) native.close(fd);
}

/** Resolves with the events of the first watch() callback on fd. */
export function ready(fd: number, events = 1): Promise<number> {
  return new Promise((resolve) => {
    const w = native.watch(fd, (ev) => {
      w.close();
      resolve(ev);
    });
    w.start(events);
  });
}

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "warm-native-"));
}

export async function collect(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a CommonJS script in a fresh node with `n` = the addon; `fds` become
 * its fds 3, 4, ...; `onStart` sees the child while it runs. Resolves once
 * the child has exited and its pipes are closed (so no fd of ours is left).
 */
export async function runNode(script: string, args: string[] = [], fds: number[] = [], onStart?: (pid: number, stdout: () => string) => Promise<void>): Promise<RunResult> {
  const child = spawn(process.execPath, [...args, "-e", `const n = require(${JSON.stringify(ADDON)});\n${script}`], {
    stdio: ["ignore", "pipe", "pipe", ...fds],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d));
  const stderr = collect(child.stderr!);
  const closed = once(child, "close") as Promise<[number | null, NodeJS.Signals | null]>;
  await onStart?.(child.pid!, () => out);
  const [code, signal] = await closed;
  return { code, signal, stdout: out, stderr: await stderr };
}

// Taken as the test file imports this, before any of its tests runs.
const atStart = listFds();

/** Defines a file's last test: every fd its tests opened is closed again. */
export function noFdLeftOpen(): void {
  test("no test left an fd open", () => {
    const leaked = listFds().filter((fd) => !atStart.includes(fd));
    assert.deepEqual(
      leaked.map((fd) => `${fd} -> ${fs.readlinkSync(`/proc/self/fd/${fd}`)}`),
      [],
    );
  });
}
