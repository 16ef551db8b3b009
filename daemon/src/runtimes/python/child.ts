// The daemon's handle on one child forked from a Python template (see
// ../forked-child.ts): its first run also reports the template's pages it
// wrote (`touched`), which every later child writes ahead of its run.
import type { Logger } from "../../log";
import type { ExitInfo } from "../../pool";
import type { Message } from "../../protocol/codec";
import { type Received, SPEC_MESSAGES } from "../../protocol/message-types";
import { type ChildToDaemon, ForkedChild } from "../forked-child";
import type { Template } from "./template";

export class PythonChild extends ForkedChild {
  /** The run it was given, once given. */
  request: Message | null = null;

  constructor(
    private readonly template: Template,
    log: Logger,
    onLoaded: (modules: [string, string][]) => void,
    onNeedsTty: () => void,
  ) {
    super(template, "python child", log, { loaded: onLoaded, needsTty: onNeedsTty }, SPEC_MESSAGES["Python child link"]["child → daemon"]);
  }

  protected forked(): void {
    this.startupUs = this.template.startupUs;
  }

  protected outgoing(message: Message): Message {
    this.request = message;
    return this.template.touchedPages ? message : { ...message, want_pages: true };
  }

  protected reportedExit(m: Received<ChildToDaemon>): ExitInfo {
    return { code: typeof m.code === "number" ? m.code : null, signal: typeof m.signal === "number" ? m.signal : null };
  }

  protected otherFrame(m: Received<ChildToDaemon>): void {
    if (m.t === "touched" && Array.isArray(m.pages) && m.pages.every((n) => typeof n === "number")) this.template.touchedPages ??= m.pages as number[];
  }
}
