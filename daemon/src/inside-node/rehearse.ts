// Runs, before a warm process says `ready`, the code its one run will need.
// The process has never run any of it, and V8 compiles a function the first
// time it is called (tens of microseconds each); timed inside the process,
// that was about half a millisecond of a no-op run, on the caller's time.
// Everything here stays inside this process and leaves it as it was:
// frames are only encoded and decoded, and the umask and working directory
// are set to what they already are.
import { native } from "../native";
import { learned } from "./exit";
import { FrameReader } from "../protocol/frame-reader";
import { encodeFrame, WIRE, type WireValue } from "./wire";

// Once is enough: more rounds make V8 optimize these on background threads,
// which measured slower here (the compiles compete with the run).
export function rehearse(preloaded: Set<string>, warmDist: string): void {
  const bytes = (s: string) => Buffer.from(s);
  // A run frame of the size a real one has (the caller's request, which the
  // addon reads, is as large as the environment).
  const request = Buffer.alloc(Object.entries(process.env).reduce((n, [k, v]) => n + k.length + (v?.length ?? 0) + 4, 64));
  const reader = new FrameReader(WIRE);
  reader.push(encodeFrame({ t: "run", v: 1, request, script: bytes(process.argv[1] ?? ""), args_from: 2, reset_stdio: true }), []);
  reader.next();
  const replies: { [key: string]: WireValue }[] = [{ t: "taken" }, { t: "started", pid: process.pid, pgid: process.pid, reset_stdio: true }, { t: "closed" }];
  for (const m of replies) encodeFrame(m);
  Buffer.concat([learned(preloaded, warmDist), encodeFrame({ t: "exit", code: 0 })]);
  process.umask(process.umask());
  native.chdir(bytes(process.cwd()));
}
