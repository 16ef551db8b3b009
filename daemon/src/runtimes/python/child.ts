// The daemon's handle on one child forked from a Python template (see
// ../forked-child.ts): its `run` carries the fields themselves.
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
    onTraced: () => void,
  ) {
    super(template, "python child", log, { loaded: onLoaded, needsTty: onNeedsTty, traced: onTraced }, SPEC_MESSAGES["Python child link"]["child → daemon"]);
  }

  protected forked(): void {
    this.startupUs = this.template.startupUs;
  }

  protected outgoing(message: Message): Message {
    this.request = message;
    return super.outgoing(message);
  }

  protected reportedExit(m: Received<ChildToDaemon>): ExitInfo {
    return { code: typeof m.code === "number" ? m.code : null, signal: typeof m.signal === "number" ? m.signal : null };
  }
}
