// The warm process's side of the runtime link: blocking frame reads (the
// process has nothing else to do while it waits) and whole-frame writes.
import { native } from "../native";
import { decodeValue, encodeFrame, type WireValue } from "./wire";

type Message = { [key: string]: WireValue };

/** The message of the whole frame at the start of buf, or null while buf holds less. */
export function frameIn(buf: Buffer): Message | null {
  if (buf.length < 4) return null;
  const length = buf.readUInt32BE(0);
  return buf.length >= 4 + length ? decodeValue(buf.subarray(4, 4 + length)) : null;
}

export function readFrame(fd: number): { message: Message; fds: number[] } | null {
  let buf: Buffer = Buffer.alloc(0);
  const fds: number[] = [];
  for (;;) {
    const message = frameIn(buf);
    if (message) return { message, fds };
    const got = native.recvBlocking(fd, 1 << 20);
    if (got.data.length === 0) return null;
    fds.push(...got.fds);
    buf = buf.length === 0 ? got.data : Buffer.concat([buf, got.data]);
  }
}

export function send(fd: number, message: Message): void {
  try {
    native.sendAll(fd, encodeFrame(message));
  } catch {
    // The daemon is gone; nothing to tell.
  }
}
