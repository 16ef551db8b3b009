// The daemon's end of a coprocess link or a run link: whole JSON frames as
// they arrive on the loop, sends, and one close. The daemon never receives
// fds on these links: any that arrive are closed.
import { native, type Watcher } from "../../native";
import { encodeJsonFrame, JsonFrameReader, type JsonMessage } from "./wire";

export interface JsonLinkHandlers {
  frame(message: JsonMessage): void;
  /** The other end closed (or the link failed); the link is closed now. */
  ended(): void;
  /** A frame that breaks the spec. The link is closed now. */
  bad(error: Error): void;
}

export class JsonLink {
  private watcher: Watcher | null;
  private reader = new JsonFrameReader();

  constructor(private fd: number, private readonly handlers: JsonLinkHandlers) {
    this.watcher = native.watch(fd, () => this.drain());
    this.watcher.start(1);
  }

  get open(): boolean {
    return this.fd >= 0;
  }

  drain(): void {
    while (this.fd >= 0) {
      let got;
      try {
        got = native.recv(this.fd, 65536);
      } catch {
        return this.end();
      }
      if (got === null) return;
      for (const fd of got.fds) native.close(fd);
      if (got.data.length === 0) {
        if (this.reader.buffered > 0) return this.fail(new Error("the link ended inside a frame"));
        return this.end();
      }
      this.reader.push(got.data);
      try {
        for (let m = this.reader.next(); m && this.fd >= 0; m = this.reader.next()) this.handlers.frame(m);
      } catch (error) {
        return this.fail(error as Error);
      }
    }
  }

  send(message: JsonMessage, fds: number[] = []): void {
    if (this.fd < 0) throw new Error("the link is closed");
    native.sendAll(this.fd, encodeJsonFrame(message), fds);
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.fd >= 0) native.close(this.fd);
    this.fd = -1;
  }

  private fail(error: Error): void {
    this.close();
    this.handlers.bad(error);
  }

  private end(): void {
    this.close();
    this.handlers.ended();
  }
}
