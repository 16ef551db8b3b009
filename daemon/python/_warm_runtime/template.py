# The template: one per pool. Imports the tool's modules (learned from
# earlier runs) under the recorders' traps, reports `ready`, then forks a
# child whenever the daemon asks and reports how each child ended.
import _socket
import atexit  # noqa: F401 - finish.py needs it; imported here so no run reports it as loaded
import gc
import importlib.util
import os
import ctypes  # pages.py needs it in every child too; imported once here
import select
import signal
import sys

from . import argv, child, imports, process_state, recorders, wire


class Spec:
    """What every child of this template needs to know."""

    def __init__(self, msg):
        self.mode = msg["mode"]  # "script", "module" or "code"
        self.target = os.fsdecode(msg["target"])  # the script's realpath, the module, or ""
        self.main_real = self.target if self.mode == "script" else None
        self.streams = (sys.stdin, sys.stdout, sys.stderr)  # as CPython made them for this pool's kind of fds
        self.argv_copies = []
        self.argv = sys.argv  # the list every child fills with its caller's argv (argv.py)
        self.orig_argv = getattr(sys, "orig_argv", None)  # likewise sys.orig_argv (3.10+)
        self.template_modules = frozenset()
        self.installed = ()  # directories of installed code (imports.py)
        # LC_CTYPE as this interpreter started with it: where the C locale made CPython coerce it to a UTF-8 one
        # (PEP 538), it set it in its own environment, which each child puts back in its caller's (child.py).
        self.lc_ctype = os.environb.get(b"LC_CTYPE")


PR_SET_PDEATHSIG = 1


def main():
    # The template ends with the daemon even while it imports (a module that
    # hangs would keep it from reading its link's end); the children it forks
    # do not inherit this, and a run outlives the daemon.
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # A daemon that died before the prctl sent no signal, but its run may
    # already be queued on the link: end now rather than serve nobody.
    if os.getppid() != int(os.environ.pop("WARM_PARENT_PID", os.getppid())):
        os._exit(0)
    fd = int(os.environ.pop("WARM_RUNTIME_LINK", "3"))
    os.set_inheritable(fd, False)
    link = wire.Link(fd)
    got = link.read()
    if got is None:
        os._exit(0)
    msg, fds = got
    for extra in fds:
        os.close(extra)
    spec = Spec(msg)
    os.umask(msg.get("umask", 0o22))
    path0 = first_path_entry(spec)
    if path0 is not None:
        sys.path.insert(0, path0)
    ready = preload(spec, msg.get("modules") or [], msg.get("exclude") or [])
    link.send(ready)
    serve(link, spec)


def first_path_entry(spec):
    """sys.path[0] as CPython sets it for this kind of run (None: none)."""
    if sys.flags.isolated or getattr(sys.flags, "safe_path", False):
        return None
    if spec.mode == "script":
        return os.path.dirname(os.path.realpath(spec.target))
    if spec.mode == "module":
        return os.getcwd()
    return ""


def forget(loaded, hooks):
    """Takes back the import of a root a trap dropped, so the roots after it
    load as they will in the next template, where it is not preloaded: a
    module that did what the trap saw (ansible's Display() reconfiguring
    stdout when first imported) runs again under the next root that imports
    it, and that root is dropped in this same template instead of in the
    next one. (This template is not used; the next one checks it all.)"""
    for name in loaded:
        del sys.modules[name]
    sys.meta_path[:], sys.path_hooks[:] = hooks
    sys.path_importer_cache.clear()


FAILED = "failed to load"


def failure(e, taken_back):
    """Why a root failed to load. After a root was taken back, its modules'
    side effects on the modules kept (a registry filled, a function
    patched) stay while its modules load again under a later root: what
    fails then may load in the next template, which does not preload the
    dropped root. The daemon tries those again there; a failure in a
    template where nothing was taken back is its own, and is remembered."""
    why = "%s: %s: %s" % (FAILED, type(e).__name__, e)
    if taken_back is None:
        return why
    return "%s (after %s was taken back: tried again without it)" % (why, taken_back)


def source_of(name):
    """The file a module that failed to load is loaded from (None if none):
    not in sys.modules, and its bytecode cache may be all that was read."""
    try:
        spec = importlib.util.find_spec(name)  # imports its parent package, which may fail again
    except BaseException:  # noqa: B036 - a parent package that calls sys.exit must not end the template
        return None
    origin = getattr(spec, "origin", None)
    return origin if isinstance(origin, str) and origin.startswith("/") else None


def run_module(spec):
    """The module runpy executes for -m (None otherwise): of a package, its
    __main__; the package itself runpy imports as any import does."""
    if spec.mode != "module":
        return None
    package = sys.modules.get(spec.target)
    return spec.target + ".__main__" if package is not None and hasattr(package, "__path__") else spec.target


def preload(spec, modules, exclude):
    """Imports the learned roots in order (imports.py), under the traps."""
    rec = recorders.recorder
    failed = []
    taken_back = None  # the first root whose import was taken back (forget)
    spec.installed = imports.installed_dirs()
    stand_in = sys.argv = argv.stand_in()
    recorders.install()
    try:
        for kind, name in modules:
            if kind != "py" or name in sys.modules or name.startswith("_warm_runtime"):
                continue
            if any(x and x in name for x in exclude):
                continue
            rec.current = name
            state = process_state.snapshot()
            before = set(sys.modules)
            hooks = (sys.meta_path[:], sys.path_hooks[:])
            try:
                __import__(name)  # as an import statement does: the same importlib frames as a direct run's
            except BaseException as e:  # noqa: B036 - a SystemExit while importing drops it too
                if name not in rec.dropped:  # a trap that failed the call (a socket opened) said why already
                    failed.append([name, failure(e, taken_back)])
                origin = source_of(name)
                if origin:
                    rec.files_read.add(origin)  # the daemon tries it again once this file changes
            run = run_module(spec)
            if run and run in sys.modules and run not in before:
                # runpy warns ("found in sys.modules ... prior to execution") when the -m module is already imported.
                rec.dropped.setdefault(name, "loaded %s, the module run as __main__ (-m), which a direct run has not imported when runpy starts it" % run)
            moved = process_state.changed(state)
            if moved:
                rec.dropped.setdefault(name, "changed the process's %s while loading (a child takes on its caller's)" % " and ".join(moved))
                process_state.restore(state)
            if recorders.warned_outside():
                rec.dropped.setdefault(name, "warned while loading with a stacklevel reaching its importer (a preloaded module's importer is warm's)")
            if name in rec.dropped:
                forget(set(sys.modules) - before, hooks)
                taken_back = taken_back or name
                continue
            for new in set(sys.modules) - before:
                rec.owner.setdefault(new, name)
                module = sys.modules[new]
                if module is sys.modules.get("__main__"):
                    continue  # an alias of the template's own __main__ (multiprocessing's __mp_main__): the child's replaces it
                if name not in rec.dropped and imports.foreign(module, spec.installed):
                    rec.dropped[name] = "loaded %s, which is not installed code (the user's own, or loaded through an import hook)" % new
            if sys.argv is not stand_in:
                rec.dropped.setdefault(name, "replaced sys.argv while loading")
                sys.argv = stand_in
            if len(os.listdir("/proc/self/task")) > 1:
                rec.dropped[name] = "started a thread while loading"
                break
    finally:
        recorders.uninstall()
    copies = argv.copies()
    argv.find_derived(list(rec.owner), {(c[0], c[1]) for c in copies}, stand_in)
    spec.argv_copies = [c for c in copies if c[0] not in rec.dropped and rec.owner.get(c[0]) not in rec.dropped]
    argv.become_list(stand_in)
    spec.argv = stand_in
    spec.template_modules = frozenset(sys.modules)
    imports.install()
    own = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + "/"
    files = set(f for f in rec.files_read if not f.startswith(own))
    for module in list(sys.modules.values()):
        f = getattr(module, "__file__", None)
        if isinstance(f, str) and f.startswith("/") and not f.startswith(own):
            files.add(f)
    dirs = [p for p in sys.path if p.startswith("/") and os.path.isdir(p)]
    return {
        "t": "ready",
        "pid": os.getpid(),
        "clean": not rec.dropped,
        "dropped": [[k, v] for k, v in rec.dropped.items()] + failed,
        "env_read": sorted(rec.env_read),
        "cwd_read": rec.cwd_read,
        "umask_read": rec.umask_read,
        "files_read": sorted(files),
        "dirs_listed": sorted(d for d in rec.dirs_listed if not d.startswith(own.rstrip("/"))),
        "dirs": dirs,
    }


# A child's parent is its template: a tool telling its parent something
# (os.kill(os.getppid(), signal.SIGUSR1)) must not end the template, as
# these signals' default actions (or SIGINT's KeyboardInterrupt) would. The
# template ignores them while it serves; each child gets back what the
# template had (Python's own handlers, a preloaded module's).
SHIELDED = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM)


def serve(link, spec):
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    unshielded = {signum: signal.signal(signum, signal.SIG_IGN) for signum in SHIELDED}
    poller = select.poll()
    poller.register(link.fileno(), select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    while True:
        events = poller.poll()
        reap(link)
        for fd, _ in events:
            if fd == wake_r:
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
                continue
            while True:
                got = link.read()
                if got is None:
                    os._exit(0)  # the daemon let this pool go: running children finish on their own
                msg, fds = got
                for extra in fds:
                    os.close(extra)
                if msg.get("t") == "fork":
                    fork_child(link, spec, (wake_r, wake_w), msg.get("pages") or [], unshielded)
                if not link.has_frame():
                    break


def fork_child(link, spec, wake, touched, unshielded):
    mine, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    for stream in spec.streams:
        try:
            stream.flush()
        except Exception:
            pass
    gc.freeze()  # the template's objects stay shared pages in every child
    pid = os.fork()
    if pid == 0:
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for signum, handler in unshielded.items():
                signal.signal(signum, handler)
            for fd in wake:
                os.close(fd)
            link.close()
            mine.close()
            # Its own process group (the shim signals -pid), in the template's session: not orphaned, so a tool
            # that stops itself (readline's ^Z, a SIGTSTP handler re-raising it) stops, as directly.
            os.setpgid(0, 0)
            child.serve(theirs.detach(), spec, touched)
        finally:
            os._exit(70)
    theirs.close()
    try:
        link.send({"t": "forked", "pid": pid}, [mine.fileno()])
    finally:
        mine.close()


def reap(link):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if os.WIFSIGNALED(status):
            link.tell({"t": "exit", "pid": pid, "signal": os.WTERMSIG(status)})
        else:
            link.tell({"t": "exit", "pid": pid, "code": os.WEXITSTATUS(status)})
