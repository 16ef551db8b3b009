// The warm process's side of the runtime link: blocking reads (the process
// has nothing else to do while it waits, and Node's event loop has not
// started), framed by the daemon's one frame reader with this process's
// codec (wire.ts), and whole-frame writes.
import { native } from "../native";
import { FrameReader } from "../protocol/frame-reader";
import { WIRE, type WireMessage } from "./wire";

export type Frame = { message: WireMessage; fds: number[] };

/** Frames of a link read with blocking reads: those already read first (next), then more (fill). */
export class BlockingReader {
  private readonly reader = new FrameReader(WIRE);

  constructor(private readonly fd: number) {}

  /** The next whole frame already read, or null. */
  next(): Frame | null {
    const frame = this.reader.next();
    for (const fd of this.reader.takeStray()) native.close(fd);
    return frame && { message: frame.message, fds: frame.fds };
  }

  /** Blocks until more of the link arrives; false at its end. fds that came with no frame are closed. */
  fill(): boolean {
    const got = native.recvBlocking(this.fd, 1 << 20);
    for (const fd of this.reader.push(got.data, got.fds)) native.close(fd);
    return got.data.length > 0;
  }
}

/** The next frame on fd, or null at the link's end. */
export function readFrame(fd: number): Frame | null {
  const reader = new BlockingReader(fd);
  for (;;) {
    const frame = reader.next();
    if (frame) return frame;
    if (!reader.fill()) return null;
  }
}

export function send(fd: number, message: WireMessage): void {
  try {
    native.sendAll(fd, WIRE.encode(message));
  } catch {
    // The daemon is gone; nothing to tell.
  }
}
