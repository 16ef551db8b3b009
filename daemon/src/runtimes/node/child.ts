// The daemon's handle on one child forked from a Node template (see
// ../forked-child.ts): its own `exit` frame carries a code; a signal's death
// is the template's to report, with the CPU time the child used.
import type { Logger } from "../../log";
import type { ExitInfo } from "../../pool";
import { type Received, SPEC_MESSAGES } from "../../protocol/message-types";
import { type ChildToDaemon, ForkedChild } from "../forked-child";
import type { ProcessHooks } from "./warm-process";
import type { NodeTemplate } from "./template";

export class NodeChild extends ForkedChild {
  constructor(private readonly template: NodeTemplate, log: Logger, hooks: Omit<ProcessHooks, "templateFrame">) {
    super(template, "node child", log, hooks, SPEC_MESSAGES["runtime link"]["warm → daemon"]);
  }

  /** Its run skips the start-up its template went through (warm exec's "start-up CPU time saved"). */
  protected forked(): void {
    this.startupUs = this.template.process.startupUs ?? 0;
  }

  protected reportedExit(m: Received<ChildToDaemon>): ExitInfo | null {
    return typeof m.code === "number" ? { code: m.code, signal: null } : null;
  }
}
