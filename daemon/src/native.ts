// The N-API addon (daemon/addon/, a C file per job; warm_native.c lists them):
// what Node itself cannot do for warm. Node has no way to receive fds
// (nodejs/node#53391), no fcntl, no dup2, no SO_PEERCRED and no way to set the
// raw-bytes environment, so the addon does these. Every fd it creates or
// receives is close-on-exec unless a function says otherwise. Errors throw an
// Error whose `code` is the errno name (e.g. "EBADF").
import { join } from "node:path";

export type FdKind = "tty" | "pipe" | "file" | "socket" | "char" | "dir" | "other" | "closed";

export interface Peer {
  fd: number;
  uid: number;
  gid: number;
  pid: number;
}

export interface Received {
  /** Bytes read; length 0 means the peer closed the link (EOF). */
  data: Buffer;
  /** fds that came with these bytes (already close-on-exec). */
  fds: number[];
  /** The kernel truncated ancillary data (MSG_CTRUNC): treat as bad-fds. */
  truncated: boolean;
}

/** A uv_poll watcher on the daemon's loop. `events`: 1 readable, 2 writable. */
export interface Watcher {
  start(events: number): void;
  stop(): void;
  /** Stops and frees the watcher; the fd itself is not closed. */
  close(): void;
}

export interface Native {
  /** socket+bind+listen on a Unix path, non-blocking, CLOEXEC. Returns the fd. */
  listenUnix(path: string, backlog: number): number;
  /** accept4(NONBLOCK|CLOEXEC) and read SO_PEERCRED. null when nothing is pending. */
  accept(listenFd: number): Peer | null;
  /** One recvmsg (MSG_CMSG_CLOEXEC) of up to maxBytes. null on EAGAIN. */
  recv(fd: number, maxBytes: number): Received | null;
  /** recvmsg that blocks until data, EOF or error (used by warm processes while idle). */
  recvBlocking(fd: number, maxBytes: number): Received;
  /** One sendmsg; fds (if any) ride on it. Returns bytes written, or -1 on EAGAIN. */
  send(fd: number, data: Buffer, fds?: number[]): number;
  /** Like send, but loops (polling) until every byte is written or an error. */
  sendAll(fd: number, data: Buffer, fds?: number[]): void;
  /** Calls back with (events) when fd is ready; the callback runs on the loop. */
  watch(fd: number, callback: (events: number) => void): Watcher;
  close(fd: number): void;
  /** AF_UNIX SOCK_STREAM socketpair, both ends CLOEXEC, blocking. */
  socketpair(): [number, number];
  /** pipe2(O_CLOEXEC): [readEnd, writeEnd]. */
  pipe(): [number, number];
  setCloexec(fd: number, on: boolean): void;
  setNonblocking(fd: number, on: boolean): void;
  /** fcntl(F_DUPFD_CLOEXEC): a new fd (close-on-exec) for the same open file. */
  dup(fd: number): number;
  /** dup2(from, to): `to` is NOT close-on-exec afterwards (as stdio must be). */
  dup2(from: number, to: number): void;
  fdKind(fd: number): FdKind;
  /** posix_openpt(O_RDWR|O_NOCTTY) + unlockpt + open slave O_NOCTTY, both CLOEXEC, size 24x80. */
  openpty(): { master: number; slave: number };
  setWinsize(fd: number, rows: number, cols: number): void;
  /**
   * Takes on a run request's payload (protocol-spec, `run`): the whole
   * environment becomes its raw `env` entries, in order and duplicates kept
   * as execve passes them (those without '=' or with a NUL are skipped), and
   * the umask its `umask`. Returns its argv decoded as
   * Node decodes its own, and its cwd bytes. A malformed payload throws
   * (`code`: the spec's error name) and changes nothing.
   */
  takeRequest(payload: Buffer): { argv: string[]; cwd: Buffer };
  /** chdir to raw path bytes. */
  chdir(path: Buffer): void;
  /** open(path, O_RDWR|O_CREAT|O_CLOEXEC, 0600) + flock(LOCK_EX|LOCK_NB). fd, or -1 when another holds it. */
  lockFile(path: string): number;
  /** Non-blocking read of up to maxBytes; null on EAGAIN, empty Buffer on EOF. */
  readNonblocking(fd: number, maxBytes: number): Buffer | null;
  /** inotify_init1(IN_NONBLOCK | IN_CLOEXEC). */
  inotifyInit(): number;
  /** inotify_add_watch; returns the watch descriptor. */
  inotifyAdd(fd: number, path: string, mask: number): number;
  /** inotify_rm_watch, ignoring a watch that is already gone. */
  inotifyRemove(fd: number, wd: number): void;
  /** Every queued event as a flat [wd, mask, name, ...] (name "" for the watched path itself); [] when none. */
  inotifyRead(fd: number): (number | string)[];
  /** pidfd_open: an fd readable once the process has ended (watch it with watch()). */
  pidfdOpen(pid: number): number;
  /** Soft and hard limits for the resources the protocol's run request lists, in its order; -1 = unlimited. */
  getrlimits(): number[];
  /**
   * uv_run(loop, UV_RUN_ONCE): turns the event loop once by hand. Only for a
   * warm process in Node's preload phase, before the loop has started.
   * Returns false when the loop has nothing left to wait for.
   */
  runLoopOnce(): boolean;
  /**
   * Ends a warm process now: fflush(NULL); write exitFrame to link; close
   * every fd except link, client, those in keep, and anonymous inodes; write
   * clientFrame to client (unless client is -1) and close it; write
   * closedFrame to link; _exit(code). Never returns.
   */
  exitNow(code: number, link: number, exitFrame: Buffer, closedFrame: Buffer, keep: number[], client: number, clientFrame: Buffer): never;
  /**
   * Like exitNow, but later: the process ends so right after Node has
   * printed a fatal exception (from Node's AtExit callbacks), instead of
   * through Node's own exit, which a forked child cannot survive, and so that
   * the shim hears the status even when the daemon is gone. False if the
   * node binary does not export what that needs.
   */
  exitAfterFatal(code: number, link: number, exitFrame: Buffer, closedFrame: Buffer, keep: number[], client: number, clientFrame: Buffer): boolean;
  /**
   * In a Node template, before any of the tool's modules load: starts
   * libuv's thread pool and records the threads that exist (Node's own,
   * idle under --single-threaded). Returns how many.
   */
  forkBaseline(): number;
  /**
   * Forks a child of this template: the child's pid here, 0 in the child
   * (own session and process group, its own libuv loop). Throws with code
   * ENOTSAFE if a thread appeared since forkBaseline() or a libuv request is
   * in flight, with code EBUSY if Node's platform threads did not go idle
   * within ~2 s (a child forked while they hold tasks V8 posted would wait
   * for those tasks forever), or with the errno of fork (EAGAIN).
   */
  forkChild(): number;
  /** Blocks until link is readable (returns null) or a forked child ended (reaped, with the CPU time it used). */
  forkWait(link: number): { pid: number; code?: number; signal?: number; cpuUs: number } | null;
  /**
   * In a forked child waiting for its run: faults in each page of `pages`
   * (pairs: first page number, count) that is in a readable private mapping
   * now, as a write (a writable one) or a read would, contents unchanged
   * (MADV_POPULATE_WRITE, MADV_POPULATE_READ), so its copy-on-write copy or
   * mapping is made before the run; stops as soon as `link` is readable.
   * Returns how many pages it went through.
   */
  prefault(pages: number[], link: number): number;
  /**
   * In a Node template: sets `plainFlags` (a plain node's values where the
   * template's differ), takes V8's flag hash, sets `templateFlags` back and
   * writes that hash over the template's, so the code caches it and its
   * children make and accept are a plain node's (flag_hash.c). True if
   * `v8.cachedDataVersionTag()` is then `plainTag`; else nothing changed.
   */
  adoptFlagHash(plainFlags: string, templateFlags: string, plainTag: number): boolean;
  /** After a flag change (which puts the template's own hash back), the hash adoptFlagHash wrote, written again; false if it wrote none. */
  restampFlagHash(): boolean;
  /** This process's exit (exitNow, exitAfterFatal) also sends `touched` (the pages it took since its fork) on its link, after `closed`. */
  reportTouchedAtExit(): void;
  /** In a forked child: process.uptime() counts from now. False if the node binary does not allow it. */
  resetStartTime(): boolean;
  getppid(): number;
  /** libuv requests in flight on this process's loop (async fs, dns, thread-pool work). */
  pendingRequests(): number;
  /** uv_loop_alive: the loop has active handles or requests (turning it can still complete something). */
  loopAlive(): boolean;
  /** Whether the calling thread is the process's main thread (gettid() == getpid()): worker_threads.isMainThread without loading worker_threads. */
  isMainThread(): boolean;
  /** prctl(PR_SET_PDEATHSIG, signal): this process gets `signal` when the thread that started it ends. */
  setParentDeathSignal(signal: number): void;
  /** setpgid(0, 0): a process group of its own, in its parent's session (not orphaned: a tool's own stop stops it). */
  ownProcessGroup(): void;
  /** Rewrites what ps shows of this process (NUL-separated words), cut to the size of its original argv. */
  setCommandLine(bytes: Buffer): void;
}

// dist/native.js sits in daemon/dist; the addon builds into daemon/addon/build.
// Loaded on a module object of its own, not through require: inside a warm
// process the tool's require.cache must not list warm's addon.
const addon = { exports: {} as Native };
process.dlopen(addon, join(__dirname, "..", "addon", "build", "Release", "warm_native.node"));
export const native: Native = addon.exports;
