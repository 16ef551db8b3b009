// The daemon's end of a stream socket it talks frames on: the client link
// (transport.ts), the runtime link of a warm Node process, a template or a
// forked child, and a coprocess link or one of its run links. Reads whole
// frames as they arrive on the loop (protocol/frame-reader.ts); a write never
// blocks the daemon's only thread: what the socket cannot take now waits in
// a queue, with copies of its fds, and goes once the socket has room.
import { native, type Watcher } from "./native";
import { ProtocolError } from "./protocol/codec";
import { FrameReader, type Framing } from "./protocol/frame-reader";

export interface LinkHandlers<M> {
  /** A whole frame, the fds that came with it (none unless the link accepts fds) and its payload as received. */
  frame(message: M, fds: number[], payload: Buffer): void;
  /** The other end closed, or the link failed: the link is closed now. */
  ended(): void;
  /** Bytes that break the protocol: the link reads no more frames (it still hears the other end close); the handler decides the rest. */
  bad(error: Error): void;
}

export interface LinkOptions {
  /** Frames may carry fds; otherwise any that arrive are closed. */
  acceptsFds?: boolean;
  /**
   * fds cut short (MSG_CTRUNC: the daemon is out of fds, say) are closed, and
   * the frame they came with arrives without them, for its handler to fail
   * that frame alone (a template's `forked`). Otherwise it is a bad frame (the client link).
   */
  cutFdsFailFrame?: boolean;
  /** The other end closing inside a frame is `bad`, not only `ended`. */
  wholeFramesOnly?: boolean;
  /** Bytes asked of each read. */
  readBytes?: number;
}

export class Link<M> {
  private watcher: Watcher | null;
  private reader: FrameReader<M>;
  /** Frames (or their rest) not written yet; fds: the link's own copies, closed once they went. */
  private queue: { bytes: Buffer; fds: number[] }[] = [];
  private reading = true;
  private closing = false;

  constructor(
    private fd: number,
    private readonly framing: Framing<M>,
    private readonly handlers: LinkHandlers<M>,
    private readonly options: LinkOptions = {},
  ) {
    this.reader = new FrameReader(framing);
    // Read before writing: a write that fails (the peer is gone) ends the
    // link, and what the peer said before it closed must be read first.
    this.watcher = native.watch(fd, (events) => {
      if (events & 1) this.drain();
      if (events & 2) this.flush();
    });
    this.watcher.start(1);
  }

  get open(): boolean {
    return this.fd >= 0;
  }

  /** Bytes received that are not yet part of a whole frame. */
  get buffered(): number {
    return this.reader.buffered;
  }

  /** Reads everything that has arrived (also called when the other end is known to have ended). */
  drain(): void {
    while (this.fd >= 0) {
      let got;
      try {
        got = native.recv(this.fd, this.options.readBytes ?? 65536);
      } catch {
        return this.end();
      }
      if (got === null) return;
      // (fds on a read of no bytes, which a stream socket never delivers, are closed with the rest.)
      const cut = got.truncated && this.options.cutFdsFailFrame !== true;
      const keep = this.reading && this.options.acceptsFds === true && !got.truncated && got.data.length > 0;
      if (!keep) for (const fd of got.fds) native.close(fd);
      if (got.data.length === 0) {
        if (this.reading && this.options.wholeFramesOnly && this.reader.buffered > 0) return this.fail(new Error("the link ended inside a frame"));
        return this.end();
      }
      if (!this.reading) continue;
      if (cut) return this.fail(new ProtocolError("bad-fds", "file descriptors were truncated"));
      for (const fd of this.reader.push(got.data, keep ? got.fds : [])) native.close(fd);
      try {
        while (this.fd >= 0 && this.reading) {
          const frame = this.reader.next();
          if (!frame) break;
          this.handlers.frame(frame.message, frame.fds, frame.payload);
        }
        for (const fd of this.reader.takeStray()) native.close(fd);
      } catch (error) {
        return this.fail(error as Error);
      }
    }
  }

  /**
   * Sends one frame; the caller may close `fds` once this returns. Throws if
   * the link is closed or the socket refuses the write (the other end is gone).
   */
  send(message: M, fds: number[] = []): void {
    if (this.fd < 0) throw new Error("the link is closed");
    const bytes = this.framing.encode(message);
    if (this.queue.length === 0) {
      const n = native.send(this.fd, bytes, fds);
      if (n === bytes.length) return;
      // Some bytes went, and the fds with them; or none did (the socket is full).
      this.queue.push(n > 0 ? { bytes: bytes.subarray(n), fds: [] } : { bytes, fds: copies(fds) });
    } else this.queue.push({ bytes, fds: copies(fds) });
    this.watcher?.start(3);
  }

  /** Reads no more: what arrives from now on is dropped (fds closed); the other end closing still ends the link. */
  ignoreInput(): void {
    this.reading = false;
    for (const fd of this.reader.drainFds()) native.close(fd);
    this.reader = new FrameReader(this.framing);
  }

  /** Closes once everything sent so far is written. */
  closeWhenSent(): void {
    this.closing = true;
    if (this.queue.length === 0) this.close();
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.fd >= 0) native.close(this.fd);
    this.fd = -1;
    for (const fd of this.reader.drainFds()) native.close(fd);
    for (const pending of this.queue.splice(0)) for (const fd of pending.fds) native.close(fd);
  }

  private flush(): void {
    while (this.fd >= 0 && this.queue.length > 0) {
      const head = this.queue[0];
      let n;
      try {
        n = native.send(this.fd, head.bytes, head.fds);
      } catch {
        // The peer is gone: what it sent before it went is still to be read.
        this.drain();
        if (this.fd >= 0) this.end();
        return;
      }
      if (n < 0) return; // still full: the watcher waits for room
      for (const fd of head.fds.splice(0)) native.close(fd);
      if (n < head.bytes.length) head.bytes = head.bytes.subarray(n);
      else this.queue.shift();
    }
    if (this.fd < 0) return;
    this.watcher?.start(1);
    if (this.closing) this.close();
  }

  private fail(error: Error): void {
    this.ignoreInput();
    this.handlers.bad(error);
  }

  private end(): void {
    this.close();
    this.handlers.ended();
  }
}

/** The link's own copies of fds it must send later (the caller closes its own). */
function copies(fds: number[]): number[] {
  const out: number[] = [];
  try {
    for (const fd of fds) out.push(native.dup(fd));
  } catch (error) {
    for (const fd of out) native.close(fd);
    throw error;
  }
  return out;
}
