# How a child ends, as CPython's Py_RunMain and Py_FinalizeEx end a direct
# run: SystemExit's code (printing what is not an int), the traceback of an
# uncaught exception, non-daemon threads joined, atexit handlers, stdout
# and stderr flushed (a failure there is reported and makes the status 120),
# and death by SIGINT after an uncaught KeyboardInterrupt. Then, instead of
# tearing down the interpreter (milliseconds, and the template's objects
# are not the tool's), files the tool left open are flushed, the status is
# reported to the daemon, every fd of the tool is closed, the status goes
# to the shim on the client link, and the child leaves by _exit.
import gc
import io
import os
import signal
import sys

from . import imports, pages


def system_exit_code(e):
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF if -(2 ** 63) <= code < 2 ** 63 else 255
    err = sys.stderr
    try:
        if err is not None:
            err.write(str(code) + "\n")
        else:
            os.write(2, (str(code) + "\n").encode("utf-8", "backslashreplace"))
    except Exception:
        pass
    return 1


def print_uncaught(e, tb):
    """PyErr_Print: sys.last_*, then sys.excepthook (falling back as CPython does)."""
    e.__traceback__ = tb
    sys.last_type, sys.last_value, sys.last_traceback = type(e), e, tb
    if sys.version_info >= (3, 12):
        sys.last_exc = e
    hook = getattr(sys, "excepthook", None)
    try:
        if hook is None:
            raise RuntimeError("lost sys.excepthook")
        hook(type(e), e, tb)
    except BaseException as hook_error:
        if hook is not None:
            _write("Error in sys.excepthook:\n")
            sys.__excepthook__(type(hook_error), hook_error, hook_error.__traceback__)
            _write("\nOriginal exception was:\n")
        else:
            _write("sys.excepthook is missing\n")
        sys.__excepthook__(type(e), e, tb)


def _write(text):
    try:
        sys.stderr.write(text)
    except Exception:
        pass


def end(link, spec, code, sigint):
    """Never returns."""
    try:
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()
    except BaseException:
        pass
    try:
        import atexit
        atexit._run_exitfuncs()
    except BaseException:
        pass
    if not flush_std():
        code = 120
    flush_left_open(spec.streams)
    if os.getpid() != spec.pid:
        os._exit(code)  # a process the tool forked, ending: it has no link to talk on
    try:
        modules = [["py", name] for name in loaded(spec)]
    except Exception:
        modules = []  # what the tool left in sys.modules could not be read: learn nothing, report its status
    if modules:
        link.tell({"t": "loaded", "modules": modules})
    status = {"t": "exit", "signal": signal.SIGINT} if sigint else {"t": "exit", "code": code}
    link.tell(status)
    # Every fd the tool could share with its caller closes now, so the caller
    # hears back at once (not after the kernel tears the process down).
    keep = sorted((link.fileno(), spec.client.fileno()))
    os.closerange(0, keep[0])
    os.closerange(keep[0] + 1, keep[1])
    os.closerange(keep[1] + 1, 1 << 20)
    spec.client.tell(status)
    spec.client.close()
    link.tell({"t": "closed"})
    if spec.want_pages:
        report_touched(link)
    if sigint:
        die_by(signal.SIGINT)
    os._exit(code)


def flush_std():
    ok = True
    for stream in (sys.stdout, sys.stderr):
        if stream is None or getattr(stream, "closed", True):
            continue
        try:
            stream.flush()
        except Exception as e:
            ok = False
            try:
                sys.stderr.write("Exception ignored in: %r\n%s: %s\n" % (stream, type(e).__name__, e))
                sys.stderr.flush()
            except Exception:
                pass
    return ok


def flush_left_open(template_streams):
    """What interpreter teardown would flush: files the tool left open, and
    the template's streams that a module kept a reference to (their fds are
    the caller's now)."""
    kinds = (io.TextIOWrapper, io.BufferedWriter, io.BufferedRandom)
    # type(), not isinstance(): isinstance asks an object its __class__, which
    # runs code in a proxy (Django's settings, unconfigured, raise).
    found = [o for o in gc.get_objects() if issubclass(type(o), kinds)]
    for s in template_streams:
        if s is not None:
            found += [s, getattr(s, "buffer", None)]
    for f in found:
        try:
            if f is not None and not f.closed:
                f.flush()
        except Exception:
            pass


def loaded(spec):
    """The roots of what this run imported that the template had not: learned for next time (imports.py)."""
    if imports.stopped():
        return []  # it set a tracer: it runs directly from now on, and its imports since were not seen
    new = set()
    for name, module in list(sys.modules.items()):
        if name in spec.template_modules or name == "__main__" or name.startswith("_warm_runtime"):
            continue
        try:
            if getattr(module, "__file__", None) == spec.main_real or not hasattr(module, "__name__"):
                continue
        except Exception:
            continue  # not a module (a proxy whose attributes raise): nothing to learn
        new.add(name)
    return imports.roots(new, spec.installed) if new else []


def report_touched(link):
    """The template's pages this run wrote, for the next children (pages.py).
    Sent after `closed`: the caller has its answer already."""
    try:
        link.tell({"t": "touched", "pages": pages.touched()})
    except Exception:
        pass


def die_by(signum):
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    os._exit(128 + signum)
