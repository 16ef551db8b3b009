// An interactive bash in a real pseudo-terminal (node-pty), to drive the
// shim the way a person at a terminal would: type, press ^C and ^Z, resize,
// and read the screen. node-pty can lose the tail of output at exit, so
// everything waits for sentinels in the output, never for exit events.
import { type IPty, spawn } from "node-pty";

export class Terminal {
  private pty: IPty;
  private out = "";
  private mark = 0;

  constructor(env: NodeJS.ProcessEnv, cwd: string, cols = 80, rows = 24) {
    this.pty = spawn("bash", ["--norc", "--noprofile", "--noediting", "-i"], {
      name: "xterm-256color",
      cols,
      rows,
      cwd,
      env: { ...env, PS1: "$ ", PROMPT_COMMAND: "", TERM: "xterm-256color" } as { [key: string]: string },
    });
    this.pty.onData((d) => (this.out += d));
  }

  /** Types a line (with Enter). */
  line(text: string): void {
    this.pty.write(text + "\r");
  }

  /** Sends raw bytes (e.g. "\x03" for ^C). */
  press(bytes: string): void {
    this.pty.write(bytes);
  }

  resize(cols: number, rows: number): void {
    this.pty.resize(cols, rows);
  }

  /** Waits until output after the last mark matches; returns the match and moves the mark past it. */
  async expect(pattern: RegExp, what = String(pattern), ms = 20_000): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const rest = this.out.slice(this.mark);
      const m = pattern.exec(rest);
      if (m) {
        this.mark += (m.index ?? 0) + m[0].length;
        return m;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`terminal: timed out waiting for ${what}; screen since mark:\n${JSON.stringify(this.out.slice(this.mark))}`);
  }

  /** Runs a command line and returns its exit status (via a sentinel echo), waiting for it at most `ms`. */
  async status(cmd: string, ms?: number): Promise<number> {
    const tag = `S${Math.random().toString(36).slice(2, 8)}`;
    this.line(`${cmd}; echo "${tag}=$?"`);
    const m = await this.expect(new RegExp(`${tag}=(\\d+)`), `status of ${cmd}`, ms);
    return Number(m[1]);
  }

  get screen(): string {
    return this.out;
  }

  close(): void {
    this.pty.kill("SIGKILL");
  }
}
