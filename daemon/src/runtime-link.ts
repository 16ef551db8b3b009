// The daemon's end of one runtime link (to a warm Node process, a Python
// template or one of its children): reads whole frames as they arrive on the
// loop, sends frames, and closes once. Every fd that no frame may carry is
// closed here.
import { native, type Watcher } from "./native";
import { encodeFrame, FrameReader, type Message } from "./protocol/codec";

export interface LinkHandlers {
  /** A whole frame, with the fds that came with it (always none unless the link accepts fds). */
  frame(message: Message, fds: number[]): void;
  /** The other end closed (or the link failed): the link is closed now. */
  ended(): void;
  /** A frame that breaks the spec: the caller decides (usually, kill the process). */
  bad(error: Error): void;
}

export class RuntimeLink {
  private watcher: Watcher | null;
  private reader = new FrameReader();

  constructor(private fd: number, private readonly handlers: LinkHandlers, private readonly acceptsFds = false) {
    this.watcher = native.watch(fd, () => this.drain());
    this.watcher.start(1);
  }

  get open(): boolean {
    return this.fd >= 0;
  }

  /** Reads everything that has arrived (also called when the process is known to have ended). */
  drain(): void {
    while (this.fd >= 0) {
      let got;
      try {
        got = native.recv(this.fd, 65536);
      } catch {
        return this.end();
      }
      if (got === null) return;
      const fds = this.acceptsFds ? got.fds : [];
      if (!this.acceptsFds) for (const fd of got.fds) native.close(fd);
      for (const fd of this.reader.push(got.data, fds)) native.close(fd);
      if (got.data.length === 0) return this.end();
      try {
        for (let frame = this.reader.next(); frame; frame = this.reader.next()) this.handlers.frame(frame.message, frame.fds);
        for (const fd of this.reader.takeStray()) native.close(fd);
      } catch (error) {
        for (const fd of this.reader.drainFds()) native.close(fd);
        this.handlers.bad(error as Error);
        return;
      }
    }
  }

  /** Sends one frame (throws if the link is gone). */
  send(message: Message, fds: number[] = []): void {
    native.sendAll(this.fd, encodeFrame(message), fds);
  }

  close(): void {
    if (this.watcher) {
      this.watcher.close();
      this.watcher = null;
    }
    if (this.fd >= 0) {
      native.close(this.fd);
      this.fd = -1;
    }
    for (const fd of this.reader.drainFds()) native.close(fd);
  }

  private end(): void {
    this.close();
    this.handlers.ended();
  }
}
