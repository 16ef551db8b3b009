// `warm service install|uninstall`: a systemd user service for the daemon,
// started by its socket (socket activation on warm's own socket path) and
// reporting readiness on NOTIFY_SOCKET (Type=notify; daemon/src/systemd.ts).
// Without systemd the files are still written, with a note.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { resolvePaths } from "../paths";
import { dataDirs } from "./dirs";
import { install } from "./install";
import { UsageError, type Context } from "./word";

export const help = `NAME
    warm service - run the daemon as a systemd user service

SYNOPSIS
    warm service install|uninstall

DESCRIPTION
    install writes warm.socket and warm.service in
    $XDG_CONFIG_HOME/systemd/user (else ~/.config/systemd/user): the socket
    listens on warm's socket path and starts the daemon (Type=notify, with a
    watchdog) at the first connection; the daemon still exits when idle, and
    the socket starts it again. The service runs the installed shim's daemon
    files ($XDG_DATA_HOME/warm/daemon, refreshed as warm link does) with the
    node found now (WARM_NODE, else node on PATH). Where systemd runs, it stops
    a daemon the shim started, reloads systemd and enables warm.socket;
    elsewhere the files are written and the note says so.

    uninstall disables and removes both files. Without the service, the shim
    starts a daemon itself when none answers, as always.

    Stopping the service (systemctl --user stop warm) lets tools that are
    running finish (KillMode=process), as warm stop does.
`;

const UNITS = ["warm.socket", "warm.service"];

function unitDir(): string {
  const xdg = process.env.XDG_CONFIG_HOME;
  return join(xdg && xdg.startsWith("/") ? xdg : join(homedir(), ".config"), "systemd", "user");
}

/** A user manager to talk to: systemd booted this machine and systemctl is there. */
function systemdRuns(): boolean {
  return existsSync("/run/systemd/system") && spawnSync("systemctl", ["--user", "is-system-running"], { encoding: "utf8" }).error === undefined;
}

function systemctl(args: string[]): void {
  const r = spawnSync("systemctl", ["--user", ...args], { stdio: "inherit" });
  if (r.status !== 0) throw new Error(`systemctl --user ${args.join(" ")} failed`);
}

/** A value for a unit file: systemd's quoting, with % and $ escaped. */
function quote(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%").replace(/\$/g, "$$$$")}"`;
}

function nodePath(): string {
  const want = process.env.WARM_NODE || "node";
  if (want.includes("/")) return want;
  // The node running this word is the one the shim found (WARM_NODE, else PATH).
  return process.execPath;
}

export function units(shimDaemon: string): Record<string, string> {
  const paths = resolvePaths();
  const env = ["XDG_RUNTIME_DIR", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"]
    .filter((name) => process.env[name]?.startsWith("/"))
    .map((name) => `Environment=${quote(`${name}=${process.env[name]}`)}\n`)
    .join("");
  return {
    "warm.socket": `# Written by warm service install (warm help service).
[Unit]
Description=warm command server socket

[Socket]
ListenStream=${paths.socket}
SocketMode=0600
DirectoryMode=0700

[Install]
WantedBy=sockets.target
`,
    "warm.service": `# Written by warm service install (warm help service).
[Unit]
Description=warm command server
Requires=warm.socket
After=warm.socket

[Service]
Type=notify
NotifyAccess=main
ExecStart=${quote(nodePath())} ${quote(join(shimDaemon, "dist", "main.js"))}
${env}WatchdogSec=60
KillMode=process
Restart=on-failure
`,
  };
}

export function run(args: string[], ctx: Context): number {
  const [action] = args;
  if (args.length !== 1 || (action !== "install" && action !== "uninstall")) throw new UsageError("warm service install|uninstall");
  const dir = unitDir();
  const withSystemd = systemdRuns();
  if (action === "install") {
    const dirs = dataDirs();
    install(dirs, ctx.shim);
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(units(dirs.daemon))) {
      writeFileSync(join(dir, name), text);
      process.stdout.write(`wrote ${join(dir, name)}\n`);
    }
    if (!withSystemd) {
      process.stdout.write(`note: systemd is not running here; where it runs: systemctl --user daemon-reload && systemctl --user enable --now warm.socket\n`);
      return 0;
    }
    // A daemon the shim started holds the socket path: it goes first.
    spawnSync(ctx.shim, ["stop"], { stdio: "ignore" });
    systemctl(["daemon-reload"]);
    systemctl(["enable", "--now", "warm.socket"]);
    process.stdout.write("enabled warm.socket\n");
    return 0;
  }
  if (withSystemd) spawnSync("systemctl", ["--user", "disable", "--now", ...UNITS], { stdio: "inherit" });
  for (const name of UNITS) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    rmSync(path);
    process.stdout.write(`removed ${path}\n`);
  }
  if (withSystemd) systemctl(["daemon-reload"]);
  else process.stdout.write("note: systemd is not running here; nothing to disable\n");
  return 0;
}
