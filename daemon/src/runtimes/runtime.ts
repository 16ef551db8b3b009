// What the daemon needs of a language runtime: turn a request for its kind
// of program into a pool (or a reason to run directly), and keep its pools
// fresh (file changes, as the daemon's change watch reports them; idle timeouts).
import type { Pool } from "../pool";
import type { Message } from "../protocol/codec";
import type { RunRequest } from "../protocol/messages";
import type { Interpreter, Program } from "./program";

export interface Prepared {
  pool: Pool;
  toolId: string;
  /** The `run` message for the warm process. */
  message: Message;
  /**
   * False when a replacement started during this run would be of no use:
   * it would preload nothing, since the run is the one that teaches warm
   * what the tool loads (and it would slow that run down). Default true.
   */
  refillDuringRun?: boolean;
}

export interface WarmRuntime {
  readonly kind: Interpreter;
  readonly pools: Map<string, Pool>;
  /** Drops the pools of these tools (their files changed: tool id -> what changed, each "<path> <how>"). */
  invalidate(tools: Map<string, string[]> | "all"): void;
  prepare(program: Program, request: RunRequest, fds: number[]): Prepared | { direct: string };
  /** A runtime that takes programs by declaration rather than by interpreter (coprocesses): this request's program, or null. */
  claim?(request: RunRequest, cwd: string): Program | null;
  noteRun(toolId: string): void;
  /** A run of the tool started (1: handed to a warm process, or the caller told to run it directly) or ended (-1). */
  running(toolId: string, delta: 1 | -1): void;
  /** Drops pools unused for their idle timeout. */
  sweep(now: number): void;
  closeAll(): void;
  /** Resolves once every process it started has ended (after closeAll and the last run): the daemon exits then. */
  ended?(): Promise<void>;
}
