"""Make a Python tool a warm coprocess (protocol-spec/coprocess.md).

    import warm_coprocess
    def main(argv): ...          # argv as sys.argv; returns the exit status
    warm_coprocess.run(main, watch=[__file__])

Started without WARM_COPROCESS_FD, run() calls main(sys.argv) and exits with
its status, as the tool always did. Started by the warm daemon, it says hello
and serves invocations: in fork mode (the default) each in a forked child
with fresh state. Standard library only.
"""
import base64
import io
import json
import os
import signal
import socket
import struct
import sys
import traceback

MAX_FRAME = 16 * 1024 * 1024


def _recv_exact(sock, n, fds):
    """Exactly n bytes (or fewer at EOF); fds that arrive are appended to fds."""
    chunks, got = [], 0
    while got < n:
        data, anc, flags, _ = sock.recvmsg(n - got, socket.CMSG_SPACE(16 * 4), socket.MSG_CMSG_CLOEXEC)
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.extend(struct.unpack("%di" % (len(payload) // 4), payload[: len(payload) - len(payload) % 4]))
        if not data:
            break
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)


def recv_frame(sock):
    """(message, fds), or (None, []) at EOF. Raises ValueError on a broken frame."""
    fds = []
    head = _recv_exact(sock, 4, fds)
    if not head:
        return None, fds
    if len(head) < 4:
        raise ValueError("the link ended inside a frame")
    (n,) = struct.unpack(">I", head)
    if n < 1 or n > MAX_FRAME:
        raise ValueError("frame length out of range")
    stray = []
    body = _recv_exact(sock, n, stray)
    for fd in stray:
        os.close(fd)
    if len(body) < n:
        raise ValueError("the link ended inside a frame")
    message = json.loads(body.decode("utf-8"))
    if not isinstance(message, dict):
        raise ValueError("frame is not a JSON object")
    return message, fds


def send_frame(sock, message, fds=()):
    body = json.dumps(message).encode("utf-8")
    data = struct.pack(">I", len(body)) + body
    sent = sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds))] if fds else [])
    if sent < len(data):
        sock.sendall(data[sent:])


def shim_frame(kind, value):
    """A frame to the shim ("Frames to the shim"): kind "started" (value: the pid), "code" or "signal"."""
    if kind == "started":
        pid = struct.pack(">I", value)
        body = b"\x83\xa1t\xa7started\xa3pid\xce" + pid + b"\xa4pgid\xce" + pid
    else:
        body = b"\x82\xa1t\xa4exit" + (b"\xa4code" if kind == "code" else b"\xa6signal") + b"\xcc" + bytes([value & 0xFF])
    return struct.pack(">I", len(body)) + body


def tell_shim(client, kind, value):
    """Writes a frame to the shim; False if the shim is gone (it gave up waiting, or has exited)."""
    try:
        client.sendall(shim_frame(kind, value))
        return True
    except OSError:
        return False


def b64(value):
    if not isinstance(value, str):
        raise ValueError("bytes must be base64 strings")
    return base64.b64decode(value.encode("ascii"), validate=True)


def parse_run(m):
    """argv, env (lists of bytes), cwd (bytes), umask (int) of a run message."""
    if not isinstance(m.get("argv"), list) or not isinstance(m.get("env"), list):
        raise ValueError("argv and env must be arrays")
    if type(m.get("umask")) is not int:
        raise ValueError("umask must be an int")
    return [b64(a) for a in m["argv"]], [b64(e) for e in m["env"]], b64(m.get("cwd")), m["umask"]


def _status(main, argv):
    """main's status as a direct run of python would end (SystemExit, uncaught exceptions)."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    except KeyboardInterrupt:
        return "SIGINT"
    except BaseException:
        traceback.print_exc()
        return 1
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _new_stdio():
    def stream(fd, mode):
        raw = io.FileIO(fd, mode, closefd=False)
        buffered = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        old = (sys.stdin, sys.stdout, sys.stderr)[fd]
        tty = os.isatty(fd)
        return io.TextIOWrapper(buffered, encoding=old.encoding, errors=old.errors, line_buffering=tty or fd == 2)
    sys.stdin, sys.stdout, sys.stderr = stream(0, "r"), stream(1, "w"), stream(2, "w")


def _flush():
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass


def _take(fds, cwd, umask, env):
    """Takes on the caller: its fds 0-2, cwd, umask and whole environment."""
    for i in range(3):
        os.dup2(fds[i], i)
        os.close(fds[i])
    os.chdir(cwd)
    os.umask(umask)
    os.environ.clear()
    for entry in env:
        name, eq, value = entry.partition(b"=")
        if eq and name and name not in os.environb:
            os.environb[name] = value
    _new_stdio()


def _started(run_link, client):
    """`taken` to the daemon, then `started` to the shim: True when the tool may start."""
    try:
        send_frame(run_link, {"t": "taken", "pid": os.getpid()})
    except OSError:
        return False
    return tell_shim(client, "started", os.getpid())


def _report(run_link, client, code):
    """The run is over: `exit` to the daemon, then to the shim (a caller that goes before the daemon has it went mid-run)."""
    try:
        send_frame(run_link, {"t": "exit", "code": code})
    except OSError:
        pass  # the tool closed its run link, or the daemon is gone: nothing more to say
    tell_shim(client, "code", code)
    client.close()


def _child(link, kids, run_link, client, fds, fields, main, script):
    try:
        link.close()
        for other in kids.values():
            other.close()  # other runs' callers are none of this run's business
        os.setsid()
        argv, env, cwd, umask = fields
        _take(fds, cwd, umask, env)
        if not _started(run_link, client):
            os._exit(0)  # the shim ran the command itself (or the daemon is gone before taken): nothing may run
        code = _status(main, [script] + [os.fsdecode(a) for a in argv[1:]])
        _flush()
    except BaseException:
        os._exit(255)
    if code == "SIGINT":
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    for fd in range(3):
        os.close(fd)
    _report(run_link, client, code)
    os._exit(code)


def _serial(run_link, client, fds, fields, main, script):
    saved = [os.dup(i) for i in range(3)]
    streams = (sys.stdin, sys.stdout, sys.stderr)
    cwd, umask, env = os.getcwd(), os.umask(0), dict(os.environb)
    os.umask(umask)
    argv, renv, rcwd, rumask = fields
    code = None
    try:
        _take(fds, rcwd, rumask, renv)
        if _started(run_link, client):
            code = _status(main, [script] + [os.fsdecode(a) for a in argv[1:]])
        _flush()
    finally:
        for i in range(3):
            os.dup2(saved[i], i)
            os.close(saved[i])
        sys.stdin, sys.stdout, sys.stderr = streams
        os.chdir(cwd)
        os.umask(umask)
        os.environb.clear()
        os.environb.update(env)
    if code is None:
        os._exit(0)  # not started: the shim ran the command itself; the daemon starts another coprocess
    if code == "SIGINT":
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    _report(run_link, client, code)
    run_link.close()


def _reap(kids, pid, tell):
    """Reaps child pid; tells its shim how it ended when asked; the status as the daemon's exit keys."""
    client = kids.pop(pid, None)
    try:
        _, st = os.waitpid(pid, 0)
        status = {"signal": os.WTERMSIG(st)} if os.WIFSIGNALED(st) else {"code": os.WEXITSTATUS(st)}
    except ChildProcessError:
        status, tell = {"code": 255}, False
    if client is not None:
        if tell:
            tell_shim(client, *next(iter(status.items())))
        client.close()
    return status


def _loaded_files():
    """Every module file the start-up loaded: a change to any restarts the coprocess."""
    files = (getattr(m, "__file__", None) for m in list(sys.modules.values()))
    return sorted({os.path.abspath(f) for f in files if isinstance(f, str)})


def serve(main, watch=(), env=(), mode="fork"):
    """Serves invocations until the daemon closes the link; returns False if this is no coprocess."""
    fd = os.environ.pop("WARM_COPROCESS_FD", None)
    if fd is None:
        return False
    link = socket.socket(fileno=int(fd))
    link.set_inheritable(False)
    script = sys.argv[0]
    send_frame(link, {"t": "hello", "v": 2, "mode": mode, "pid": os.getpid(),
                      "watch": [os.path.abspath(p) for p in watch] + _loaded_files(), "env": list(env)})
    kids = {}  # fork mode: pid -> client link of each child not reaped yet
    while True:
        try:
            m, fds = recv_frame(link)
        except OSError:
            m, fds = None, []  # a daemon that died with frames unread resets the link: its end all the same
        if m is None:
            # The daemon is gone (or let this coprocess go): each child still
            # running finishes, and its shim hears how it ended.
            for pid in list(kids):
                _reap(kids, pid, True)
            return True
        if m.get("t") == "wait" and type(m.get("pid")) is int:
            status = _reap(kids, m["pid"], m.get("tell") is True)
            try:
                send_frame(link, dict(t="exit", pid=m["pid"], **status))
            except OSError:
                return True  # the daemon closed the link: shutdown
        elif m.get("t") == "run" and len(fds) == 5:
            fields = parse_run(m)
            client, run_link = socket.socket(fileno=fds[3]), socket.socket(fileno=fds[4])
            if mode == "serial":
                _serial(run_link, client, fds[:3], fields, main, script)
                continue
            pid = os.fork()
            if pid == 0:
                _child(link, kids, run_link, client, fds[:3], fields, main, script)
            kids[pid] = client
            run_link.close()
            for f in fds[:3]:
                os.close(f)
        else:
            for f in fds:
                os.close(f)


def run(main, watch=(), env=(), mode="fork"):
    """The tool's entry: a coprocess when the daemon started it, else main(sys.argv) as always."""
    if serve(main, watch, env, mode):
        sys.exit(0)
    code = _status(main, sys.argv)
    if code == "SIGINT":
        _flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    sys.exit(code)
