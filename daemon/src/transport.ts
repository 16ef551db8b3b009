// The client link's transport: the listening socket and each connection,
// read through the addon so the fds that come with a request arrive
// (close-on-exec). Peers of another uid are dropped before a byte is read.
import { native, type Watcher } from "./native";
import { encodeFrame, FrameReader, type Message, ProtocolError } from "./protocol/codec";

export interface Request {
  message: Message;
  fds: number[];
  /** The request's msgpack payload exactly as received (a runtime may forward it). */
  payload: Buffer;
}

export interface ConnectionHandler {
  /** One whole request frame (the client sends exactly one). */
  request(conn: Connection, request: Request): void;
  /** The client went away (EOF or error) before the daemon closed the link. */
  gone(conn: Connection): void;
}

// A client that connects and never completes its request is dropped.
const REQUEST_TIMEOUT_MS = 10_000;

export class Connection {
  private reader = new FrameReader();
  private watcher: Watcher;
  private pending: Buffer[] = [];
  private closing = false;
  private gotRequest = false;
  private timer: NodeJS.Timeout | null;
  closed = false;

  constructor(readonly fd: number, readonly peerPid: number, private readonly handler: ConnectionHandler) {
    this.watcher = native.watch(fd, (events) => this.ready(events));
    this.watcher.start(1);
    this.timer = setTimeout(() => this.fail(new ProtocolError("truncated", "no complete request in time")), REQUEST_TIMEOUT_MS);
    this.timer.unref();
  }

  private ready(events: number): void {
    if (events & 2) this.flush();
    if (events & 1) this.read();
  }

  private read(): void {
    while (!this.closed) {
      let got;
      try {
        got = native.recv(this.fd, 1 << 20);
      } catch {
        return this.lost();
      }
      if (got === null) return;
      if (got.truncated) {
        for (const fd of got.fds) native.close(fd);
        return this.fail(new ProtocolError("bad-fds", "file descriptors were truncated"));
      }
      if (got.data.length === 0) {
        for (const fd of got.fds) native.close(fd);
        return this.lost();
      }
      if (this.gotRequest) {
        // Nothing more is expected from a client after its request.
        for (const fd of got.fds) native.close(fd);
        continue;
      }
      for (const fd of this.reader.push(got.data, got.fds)) native.close(fd);
      let frame;
      try {
        frame = this.reader.next();
      } catch (error) {
        return this.fail(error);
      }
      if (frame) {
        this.gotRequest = true;
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        if (this.reader.buffered > 0) {
          for (const fd of frame.fds) native.close(fd);
          return this.fail(new ProtocolError("trailing-bytes", "more than one request on a connection"));
        }
        this.handler.request(this, frame);
      }
    }
  }

  /** Sends a reply frame without ever blocking the daemon. */
  send(message: Message): void {
    if (this.closed) return;
    this.pending.push(encodeFrame(message));
    this.flush();
  }

  /** Sends a final reply, then closes once it is written. */
  finish(message?: Message): void {
    if (message) this.send(message);
    this.closing = true;
    this.flush();
  }

  private flush(): void {
    while (!this.closed && this.pending.length > 0) {
      let n;
      try {
        n = native.send(this.fd, this.pending[0]);
      } catch {
        return this.lost();
      }
      if (n < 0) {
        this.watcher.start(3); // wait for room
        return;
      }
      if (n < this.pending[0].length) this.pending[0] = this.pending[0].subarray(n);
      else this.pending.shift();
    }
    if (!this.closed) this.watcher.start(1);
    if (this.closing && this.pending.length === 0) this.close();
  }

  /** Answers a bad request with an error reply and closes. */
  fail(error: unknown): void {
    const code = error instanceof ProtocolError ? error.code : "internal";
    const why = error instanceof Error ? error.message : String(error);
    for (const fd of this.reader.drainFds()) native.close(fd);
    this.finish({ t: "error", code, why });
  }

  private lost(): void {
    if (this.closed) return;
    this.close();
    this.handler.gone(this);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const fd of this.reader.drainFds()) native.close(fd);
    this.watcher.close();
    native.close(this.fd);
  }
}

export class Listener {
  private watcher: Watcher;

  constructor(readonly fd: number, private readonly uid: number, private readonly handler: ConnectionHandler, private readonly onRefused: (uid: number) => void) {
    this.watcher = native.watch(fd, () => this.accept());
    this.watcher.start(1);
  }

  private accept(): void {
    for (;;) {
      let peer;
      try {
        peer = native.accept(this.fd);
      } catch {
        // EMFILE and the like: the socket stays readable, so pause rather
        // than spin, and try again shortly.
        this.watcher.stop();
        setTimeout(() => this.watcher.start(1), 100).unref();
        return;
      }
      if (!peer) return;
      if (peer.uid !== this.uid) {
        native.close(peer.fd);
        this.onRefused(peer.uid);
        continue;
      }
      new Connection(peer.fd, peer.pid, this.handler);
    }
  }

  close(): void {
    this.watcher.close();
    native.close(this.fd);
  }
}
