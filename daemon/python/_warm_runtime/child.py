# One forked child: waits for its run, takes on the caller (fds, rlimit,
# umask, cwd, env, argv, stdio), reports `taken` to the daemon and `started`
# to the shim (on the client link, its run's 4th fd), runs the tool's entry
# as CPython would, and ends as CPython would (finish.py), telling the shim
# its status itself: a run outlives the daemon.
import builtins
import errno
import fcntl
import importlib.machinery
import io
import os
import resource
import signal
import sys
import types

from . import finish, imports, pages, recorders, wire

NOFILE_SOFT = 10  # index of RLIMIT_NOFILE's soft limit in the request's rlimits


def serve(fd, spec, touched):
    """Never returns: the child ends with os._exit or by a signal."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100)  # keep low fds free, as in a direct run
    os.close(fd)
    link = wire.Link(high)
    spec.pid = os.getpid()
    try:
        pages.prefault(touched, high)  # while no caller waits
    except Exception:
        pass
    try:
        got = link.read()
        if got is None:
            os._exit(0)  # let go while idle
        msg, fds = got
        if msg.get("t") != "run" or len(fds) != 4:
            for fd in fds:
                os.close(fd)
            os._exit(70)
        spec.want_pages = msg.get("want_pages") is True
        spec.client = wire.Link(fcntl.fcntl(fds[3], fcntl.F_DUPFD_CLOEXEC, 100))
        os.close(fds[3])
        taken = take(msg, fds[:3], spec)
        if any(os.isatty(fd) for fd in (0, 1, 2)):
            watch_dev_tty(link)
        watch_tracers(link)
        os.register_at_fork(after_in_child=lambda: let_go_links(link, spec.client))
        # In this order: a child that dies before `taken` ran nothing (the
        # daemon answers `direct`), and the shim never hears `started` from
        # one that did not say `taken`. The daemon may be gone by now: the
        # run goes on, reported to the shim alone.
        link.tell({"t": "taken"})
        pid = os.getpid()
        spec.client.send({"t": "started", "pid": pid, "pgid": os.getpgid(0)})
    except KeyboardInterrupt:
        finish.die_by(signal.SIGINT)  # as a direct run interrupted while starting up
    except BaseException:
        os._exit(70)
    hide_runtime()
    run(link, spec, taken)


def hide_runtime():
    """sys.modules as in a direct run: without warm's own modules (this
    runtime keeps its references to them; none is imported by name again)."""
    for name in [n for n in sys.modules if n == "_warm_runtime" or n.startswith("_warm_runtime.")]:
        del sys.modules[name]


def let_go_links(*links):
    """In a process the tool forks (without exec): the links are not its to
    hold (a shim waiting for EOF would wait for it too)."""
    for link in links:
        try:
            os.close(link.detach())
        except OSError:
            pass


def take(msg, fds, spec):
    for i, fd in enumerate(fds):
        os.dup2(fd, i)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    limits = msg.get("rlimits") or []
    # The daemon (node) raised its NOFILE soft limit; the caller's may be lower.
    if len(limits) > NOFILE_SOFT + 1:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = limits[NOFILE_SOFT]
        wanted = resource.RLIM_INFINITY if wanted == -1 else wanted
        if wanted != soft and (hard == resource.RLIM_INFINITY or 0 <= wanted <= hard):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    os.umask(msg["umask"])
    os.chdir(msg["cwd"])
    for module, name in recorders.CWD_COPIES:
        if module in sys.modules and module in spec.template_modules:
            setattr(sys.modules[module], name, os.path.abspath(os.getcwd()))
    replace_env(msg["env"], spec.lc_ctype)
    orig = [os.fsdecode(a) for a in msg["argv"]]
    start = msg["args_from"]
    if spec.mode == "script":
        argv = [orig[start - 1]] + orig[start:]
    else:
        argv = ["-m" if spec.mode == "module" else "-c"] + orig[start:]
    # In place: a module may hold the template's sys.argv (argv.py).
    spec.argv[:] = argv
    sys.argv = spec.argv
    if spec.orig_argv is not None:
        spec.orig_argv[:] = orig  # in place too, for a module that kept it
        sys.orig_argv = spec.orig_argv
    for module, name, first, length, to_end, as_bytes, as_tuple in spec.argv_copies:
        part = argv[first:] if to_end else argv[first:first + length]
        if as_bytes:
            part = [os.fsencode(a) for a in part]
        setattr(sys.modules[module], name, tuple(part) if as_tuple else part)
    rebuild_stdio(spec.streams)
    return orig, start


# Added to the error of an open of /dev/tty, as the Node runtime adds it (dev-tty.ts).
TTY_HINT = (" (warm: this tool opens /dev/tty, which a warm process cannot have; it will run directly"
            " at a terminal from now on, or set \"terminal\": \"direct\" for it in warm's config)")


def watch_dev_tty(link):
    """A warm process has no controlling terminal, so /dev/tty cannot open
    (getpass, prompts that bypass stdin): tell the daemon, which runs the
    tool directly at a terminal from then on, and fail the open with the
    error it would have had (ENXIO), saying why. An audit hook sees every
    open before it happens (raising there ends it); it is added only in a
    child at a terminal."""
    told = []

    def hook(event, args):
        if event == "open" and args and args[0] in ("/dev/tty", b"/dev/tty"):
            if not told:
                told.append(True)
                link.tell({"t": "needs_tty"})
            raise OSError(errno.ENXIO, os.strerror(errno.ENXIO) + TTY_HINT, args[0])

    sys.addaudithook(hook)


# Audit events of a tracer or profiler being set (cProfile, coverage, pdb, trace).
TRACER_EVENTS = ("sys.settrace", "sys.setprofile", "sys.monitoring.register_callback")


def watch_tracers(link):
    """A tracer or profiler the tool sets sees every call and line from then
    on: warm's import recorder must not be among them (imports.stop), and
    what it measures includes the import of each module a template had
    preloaded, which a child never does: tell the daemon, which runs the
    tool directly from then on. Audit hooks are not traced themselves."""
    told = []

    def hook(event, args):
        if event in TRACER_EVENTS and not told:
            told.append(True)
            imports.stop()
            link.tell({"t": "traced"})

    sys.addaudithook(hook)


def replace_env(entries, lc_ctype):
    """os.environ (and the C environ under it) becomes exactly the caller's;
    the first of duplicate names wins, as CPython's own start-up has it.
    Then LC_CTYPE as the template's start-up left it: the caller's LC_*
    and PYTHON* values are the template's (they are in the key), so where
    they differ CPython coerced the C locale (PEP 538), as it would have
    for a direct run, whose children inherit it."""
    os.environ.clear()
    seen = set()
    for entry in entries:
        name, eq, value = entry.partition(b"=")
        if not eq or not name or name in seen:
            continue
        seen.add(name)
        os.environb[name] = value
    if lc_ctype is not None and os.environb.get(b"LC_CTYPE") != lc_ctype:
        os.environb[b"LC_CTYPE"] = lc_ctype


def rebuild_stdio(template_streams):
    """sys.std* for the caller's fds, made as CPython's create_stdio makes
    them: the template's encoding and errors (same env, same flags), line
    buffering on a terminal (and always for stderr), write-through under -u.
    A stream a preloaded module put in place of one (colorama's init(), a
    re-encoding wrapper) stays: it writes to fd 1 or 2, or through warm's
    stand-in to sys.__stdX__, the caller's either way, as directly."""
    replaced = (sys.stdin, sys.stdout, sys.stderr)
    unbuffered = bool(getattr(template_streams[1], "write_through", False))
    made = []
    for fd, name, write in ((0, "<stdin>", False), (1, "<stdout>", True), (2, "<stderr>", True)):
        old = template_streams[fd]
        try:
            os.fstat(fd)
        except OSError:
            made.append(None)
            continue
        buffering = 0 if unbuffered and write else -1
        buf = io.open(fd, "wb" if write else "rb", buffering, closefd=False)
        raw = buf.raw if buffering else buf
        raw.name = name
        tty = raw.isatty()
        stream = io.TextIOWrapper(
            buf,
            encoding=getattr(old, "encoding", None),
            errors=getattr(old, "errors", None),
            newline="\n",
            line_buffering=not unbuffered and (tty or fd == 2),
            write_through=unbuffered,
        )
        stream.mode = "w" if write else "r"
        made.append(stream)
    sys.stdin, sys.stdout, sys.stderr = (now if now is not was else new for now, was, new in zip(replaced, template_streams, made))
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = made


def fresh_main():
    main = types.ModuleType("__main__")
    main.__loader__ = importlib.machinery.BuiltinImporter
    main.__annotations__ = {}
    main.__builtins__ = builtins
    old = sys.modules.get("__main__")
    sys.modules["__main__"] = main
    if old is not None and sys.modules.get("__mp_main__") is old:
        sys.modules["__mp_main__"] = main  # multiprocessing's alias, made while a module preloaded
    return main


def run(link, spec, taken):
    """Runs the entry (pymain_run_file / _run_module_as_main / -c) and ends."""
    orig, start = taken
    word = orig[start - 1]  # the script as given, or the -c code
    d = fresh_main().__dict__
    source = None
    if spec.mode == "script":
        path = word if word.startswith("/") else os.path.join(os.getcwd(), word)
        try:
            with open(path, "rb") as f:
                source = f.read()
        except OSError as e:
            sys.stderr.write("%s: can't open file %r: [Errno %d] %s\n" % (orig[0], path, e.errno, e.strerror))
            finish.end(link, spec, 2, False)
        d["__file__"], d["__cached__"] = path, None
        d["__loader__"] = importlib.machinery.SourceFileLoader("__main__", path)
    code, sigint = 0, False
    imports.record()
    try:
        if spec.mode == "script":
            exec(compile(source, path, "exec", dont_inherit=True), d)
        elif spec.mode == "module":
            import runpy
            runpy._run_module_as_main(spec.target, True)
        else:
            exec(compile(os.fsencode(word), "<string>", "exec", dont_inherit=True), d)
    except SystemExit as e:
        # CPython exits from inside its error printing here: __file__ stays.
        finish.end(link, spec, finish.system_exit_code(e), False)
    except BaseException as e:
        # The traceback starts at the tool's frames (or runpy's), not this one.
        finish.print_uncaught(e, e.__traceback__.tb_next if e.__traceback__ else None)
        code, sigint = 1, isinstance(e, KeyboardInterrupt)
    if source is not None:
        d.pop("__file__", None)
        d.pop("__cached__", None)
    finish.end(link, spec, code, sigint)
