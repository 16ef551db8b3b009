// The client link's transport: the listening socket and each connection
// (a Link: read through the addon so the fds that come with a request arrive
// close-on-exec; replies never block). Peers of another uid are dropped
// before a byte is read.
import { native, type Watcher } from "./native";
import { Link } from "./link";
import { type Message, MSGPACK, ProtocolError } from "./protocol/codec";
import type { DaemonToShim } from "./protocol/message-types";

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
  private link: Link<Message>;
  private timer: NodeJS.Timeout | null;

  constructor(readonly fd: number, readonly peerPid: number, private readonly handler: ConnectionHandler) {
    this.link = new Link(
      fd,
      MSGPACK,
      {
        frame: (message, fds, payload) => this.request(message, fds, payload),
        ended: () => this.lost(),
        bad: (error) => this.fail(error),
      },
      { acceptsFds: true, readBytes: 1 << 20 },
    );
    this.timer = setTimeout(() => this.fail(new ProtocolError("truncated", "no complete request in time")), REQUEST_TIMEOUT_MS);
    this.timer.unref();
  }

  get closed(): boolean {
    return !this.link.open;
  }

  private request(message: Message, fds: number[], payload: Buffer): void {
    // Nothing more is expected from a client after its request.
    const trailing = this.link.buffered > 0;
    this.link.ignoreInput();
    this.stopTimer();
    if (trailing) {
      for (const fd of fds) native.close(fd);
      return this.fail(new ProtocolError("trailing-bytes", "more than one request on a connection"));
    }
    this.handler.request(this, { message, fds, payload });
  }

  /** Sends a reply frame without ever blocking the daemon. */
  send(message: DaemonToShim): void {
    if (this.closed) return;
    try {
      this.link.send(message);
    } catch {
      this.link.close();
      this.lost();
    }
  }

  /** Sends a final reply, then closes once it is written. */
  finish(message?: DaemonToShim): void {
    if (message) this.send(message);
    this.link.closeWhenSent();
  }

  /** Answers a bad request with an error reply and closes. */
  fail(error: unknown): void {
    const code = error instanceof ProtocolError ? error.code : "internal";
    const why = error instanceof Error ? error.message : String(error);
    this.stopTimer();
    this.link.ignoreInput();
    this.finish({ t: "error", code, why });
  }

  /** The client went away (its link is closed now). */
  private lost(): void {
    this.stopTimer();
    this.handler.gone(this);
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
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
