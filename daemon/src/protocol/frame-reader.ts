// Whole frames out of a stream socket: a 4-byte big-endian length, then a
// payload (protocol-spec/README.md, "Framing"; the coprocess protocol frames
// JSON the same way). The one reader of every link the daemon talks on
// (link.ts), and of a warm Node process's (inside-node/link.ts, blocking
// reads); what the payload is, and which lengths are allowed, is the
// framing's.

/** One protocol's payloads: the reader calls checkLength before a frame is whole, decode once it is. */
export interface Framing<M> {
  /** Throws for a length the protocol refuses. */
  checkLength(length: number): void;
  /** Throws for a payload the protocol refuses. */
  decode(payload: Buffer): M;
  /** The whole frame (length and payload) for a message. */
  encode(message: M): Buffer;
}

/**
 * Accumulates bytes (and the fds that came with them) from a stream and
 * yields whole frames. fds belong to the frame whose first byte was sent
 * with them (the spec). A stream socket may hand over earlier frames in
 * the same read, but never reads past the bytes that carried fds, so the
 * fds of a read belong to the last frame that starts within it; a read
 * within which no frame starts carries stray fds.
 */
export class FrameReader<M> {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Stream offsets: bytes taken as frames so far, and bytes received. */
  private consumed = 0;
  private received = 0;
  /** fds with the stream range [from, to) of the read that brought them. */
  private marks: { from: number; to: number; fds: number[] }[] = [];
  private stray: number[] = [];

  constructor(private readonly framing: Framing<M>) {}

  /** Adds bytes; returns fds known so far to be where the spec allows none (caller closes them). */
  push(data: Buffer, fds: number[]): number[] {
    if (fds.length > 0) {
      if (data.length === 0) this.stray.push(...fds);
      else this.marks.push({ from: this.received, to: this.received + data.length, fds });
    }
    if (data.length > 0) {
      this.chunks.push(data);
      this.size += data.length;
      this.received += data.length;
    }
    return this.takeStray();
  }

  /** fds found stray so far (by push or next); the caller closes them. */
  takeStray(): number[] {
    const out = this.stray;
    this.stray = [];
    return out;
  }

  /** The next whole frame (its payload as received, too), or null. Throws what the framing throws for a bad length or payload. */
  next(): { message: M; fds: number[]; payload: Buffer } | null {
    if (this.size < 4) return null;
    const length = this.peek(4).readUInt32BE(0);
    this.framing.checkLength(length);
    if (this.size < 4 + length) return null;
    const start = this.consumed;
    const end = start + 4 + length;
    const all = this.take(4 + length);
    this.consumed = end;
    let fds: number[] = [];
    // Reads that ended inside this frame are settled: their fds are this
    // frame's if it started within them, stray if no frame did.
    while (this.marks.length > 0 && this.marks[0].to <= end) {
      const mark = this.marks.shift()!;
      if (mark.from <= start && fds.length === 0) fds = mark.fds;
      else this.stray.push(...mark.fds);
    }
    try {
      const payload = all.subarray(4);
      return { message: this.framing.decode(payload), fds, payload };
    } catch (error) {
      this.stray.push(...fds); // still ours to close (drainFds)
      throw error;
    }
  }

  /** Bytes received but not yet part of a whole frame. */
  get buffered(): number {
    return this.size;
  }

  /** fds not (or no longer) given to a frame; the caller closes them. */
  drainFds(): number[] {
    const fds = [...this.stray, ...this.marks.flatMap((m) => m.fds)];
    this.stray = [];
    this.marks = [];
    return fds;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0].subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.size = rest.length;
    return all.subarray(0, n);
  }
}
