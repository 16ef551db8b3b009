# Traps set while the template imports a tool's modules, to learn what each
# module takes from the process at import time. A module that reads an env
# variable, the working directory or the umask makes that value part of the
# pool's key (the daemon keys on it); every file it opens or stats is
# watched (a change drops the template); sys.argv is argv.py's. One that
# enumerates the environment, reads stdin, writes output, starts a process
# or reads the terminal's size while loading is dropped from preloading (it will load in
# the child, per run). So is one that changes files while loading (writes,
# creates, removes, renames: _CHANGES): that call fails, nothing is
# changed, and the module does it in each run, as directly. So is one that
# looks past its own loading code into the frames of whoever imported it
# (sys._getframe reaching importlib's or warm's frames, inspect.stack(),
# traceback.extract_stack(), a warning with a stacklevel pointing at its
# importer): a preloaded module's importer is warm's template, a direct
# run's is the tool's own code.
import fcntl
import os
import stat
import sys
import termios

_getframe = sys._getframe  # the real one: the recorders' own look-ups go past the traced one

# Module-level copies of the cwd that every child rewrites with its caller's
# (child.py), so they do not key the pool on the cwd: multiprocessing keeps
# the cwd it was imported in (Mercurial imports it; a test suite runs each
# test in its own directory, which would make a template per test).
CWD_COPIES = (("multiprocessing.process", "ORIGINAL_DIR"),)


def _copying_cwd():
    """Whether os.getcwd() was called by the top level of a module whose copy is rewritten per child."""
    f = _getframe(2)
    return f.f_code.co_name == "<module>" and any(f.f_globals.get("__name__") == m for m, _ in CWD_COPIES)


class Recorder:
    def __init__(self):
        self.active = False
        self.current = None  # the top-level module being preloaded
        self.env_read = set()
        self.cwd_read = False
        self.umask_read = False
        self.files_read = set()
        self.dirs_listed = set()
        self.argv_copiers = set()
        self.dropped = {}  # module -> why
        self.tainted = {}  # a module whose loading changed files -> why (see Tainted)
        self.owner = {}  # every module loaded -> the top-level preload that loaded it
        self.below = ()  # warm's own frames under the preload's imports

    def drop(self, why):
        if self.active and self.current and self.current not in self.dropped:
            self.dropped[self.current] = why

    def taint(self, module, why):
        """A module's own loading fired a trap that fails the call: loading
        it again under a later root would do the same (Tainted)."""
        if self.active:
            self.tainted.setdefault(module or self.current, why)

    def top(self, name):
        """The module the preload loop was importing when `name` loaded."""
        return self.owner.get(name, name)


recorder = Recorder()


class StdStandIn:
    """sys.stdin/stdout/stderr while preloading: forwards to sys.__stdX__ (so a
    module that keeps it reaches the caller's stream in a child), and drops a
    module that reads or writes while loading."""

    _USES = {"write", "writelines", "read", "readline", "readlines", "__next__", "reconfigure", "detach"}

    def __init__(self, name):
        object.__setattr__(self, "_name", name)

    def _target(self):
        return getattr(sys, "__%s__" % object.__getattribute__(self, "_name"))

    def __getattr__(self, attr):
        if attr in StdStandIn._USES and recorder.active:
            recorder.drop("used sys.%s.%s while loading" % (object.__getattribute__(self, "_name"), attr))
        return getattr(self._target(), attr)

    def __setattr__(self, attr, value):
        setattr(self._target(), attr, value)

    def __iter__(self):
        recorder.drop("read sys.%s while loading" % object.__getattribute__(self, "_name"))
        return iter(self._target())

    def __repr__(self):
        return repr(self._target())


class Tainted:
    """First on sys.meta_path while preloading. A module that changed files
    while loading (its root was dropped and taken back) is not loaded again
    under a later root: that root is dropped at once, as "loads X, which
    ...", as it would be in the next template. Without this, a later root
    could load the taken-back modules again up to some state another kept
    module holds from the first time, fail there for that reason alone, and
    be tried again in the next template, where it is dropped in turn: one
    template per such root (ansible, whose constants module every other
    imports, makes a temp directory when loaded)."""

    def find_spec(self, name, path=None, target=None):
        why = recorder.tainted.get(name)
        if why is None or not recorder.active:
            return None
        recorder.drop(why if why.startswith("loads ") else "loads %s, which %s" % (name, why))
        raise RuntimeError("warm does not preload a module that loads %s, which %s" % (name, why))


_tainted = Tainted()
_saved = {}
_hooked = []


def _note_file(path, writing):
    """A file a module opened or looked at while loading: watched, unless it
    is not a regular file (a device such as /dev/null, a pipe, a directory:
    their changes are not changes of what loads) or the interpreter's own
    bytecode cache. A file that does not exist is watched too: its
    appearing can change what loads."""
    if writing or not recorder.active:
        return
    path = _absolute(path)
    if path is None:
        return
    if path.startswith(("/dev/", "/proc/", "/sys/")) or "/__pycache__/" in path:
        return
    real_stat = _saved["stat"][0]
    try:
        if not stat.S_ISREG(real_stat(path).st_mode):
            return
    except OSError:
        try:
            if not stat.S_ISDIR(real_stat(os.path.dirname(path)).st_mode):
                return
        except OSError:
            return
    recorder.files_read.add(path)


def _absolute(path):
    """An audited path argument as an absolute str (relative to the real
    cwd), or None for an fd or something that is no path."""
    if isinstance(path, int):
        return None
    try:
        path = os.fsdecode(os.fspath(path))
    except TypeError:
        return None
    return path if path.startswith("/") else os.path.join(_saved["os"][0](), path)


def _audit(event, args):
    # Every open from Python code, whatever the API: builtins.open and
    # io.open (with a str, bytes or PathLike), pathlib, os.open, FileIO.
    if not recorder.active:
        return
    if event == "open" and args:
        mode, flags = args[1], args[2] if len(args) > 2 else 0
        writing = bool(flags & _WRITES) or (isinstance(mode, str) and bool(set(mode) & set("wax+")))
        if writing and not isinstance(args[0], int):  # an fd (os.fdopen, open(1, "w")) names no file
            _changing(event, args[0], _getframe(1))
        _note_file(args[0], writing)
    elif event in _CHANGES and args:
        target = args[_CHANGES[event]] if len(args) > _CHANGES[event] else None
        if event != "sqlite3.connect" or target not in (":memory:", b":memory:", ""):
            _changing(event, target, _getframe(1))
    elif event in ("os.listdir", "os.scandir"):
        _note_listing(args[0] if args else None)
    elif event in _SPAWNS:
        recorder.drop("started a process while loading (what it prints can depend on the caller's cwd and any env variable, which no key holds)")
    elif event in _SOCKETS and _names_address(event, args):
        # A run's work (a server started when its module is imported): in a
        # template the socket would be opened outside any run and kept by the
        # idle template and its children (a port the user's own runs then
        # find in use). The call fails, so nothing is opened.
        recorder.drop("opened a network socket while loading (%s)" % event)
        raise RuntimeError("warm does not preload a module that opens a network socket while loading (%s)" % event)


# open() flags that create or change a file.
_WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

# Audit events of calls that change files (each from the CPython version
# that has it), with the index of the argument naming what they change. Each comes before the
# change, so failing it changes nothing. os.makedirs, os.replace/unlink,
# pathlib's writes and shutil's work come through these and open;
# tempfile's and shutil's own come first, naming what the call is for.
_CHANGES = {
    "os.mkdir": 0, "os.rmdir": 0, "os.remove": 0, "os.rename": 1, "os.chmod": 0, "os.chown": 0, "os.utime": 0,
    "os.truncate": 0, "os.symlink": 1, "os.link": 1, "os.setxattr": 0, "os.removexattr": 0, "os.chflags": 0,
    "shutil.copyfile": 1, "shutil.copymode": 1, "shutil.copystat": 1, "shutil.copytree": 1, "shutil.rmtree": 0,
    "shutil.move": 1, "shutil.chown": 0, "shutil.make_archive": 0, "shutil.unpack_archive": 1,
    "tempfile.mkstemp": 0, "tempfile.mkdtemp": 0, "sqlite3.connect": 0,
}

_BOOTSTRAP_EXTERNAL = "<frozen importlib._bootstrap_external>"


def _changes_nothing(path, caller):
    """Whether a call that would change a file while a module loads is not
    the module's work: the import system writing its bytecode cache (any
    import, in a direct run too, writes the same .pyc; a module calling
    py_compile is not this), tempfile finding its directory (a probe file,
    removed at once: the directory found depends on TMPDIR and its kin,
    which join the key when read), or /dev/null opened for writing."""
    if path in ("/dev/null", b"/dev/null"):
        return True
    frame = caller
    while frame is not None and frame.f_code.co_filename == _BOOTSTRAP_EXTERNAL:
        if frame.f_code.co_name == "_cache_bytecode":  # SourceLoader.get_code -> _cache_bytecode -> set_data -> _write_atomic
            return True
        frame = frame.f_back
    return caller.f_code.co_name == "_get_default_tempdir" and caller.f_code.co_filename == getattr(sys.modules.get("tempfile"), "__file__", None)


def _changing(event, target, caller):
    """A module is about to change a file while loading: a run's work
    (a log line appended, a cache or temp directory made). Done here it
    would happen once per template instead of once per run, in a process
    that may serve no run, and a temp directory made here would be shared
    by every child and removed by none. The call fails, so nothing is
    changed; the root is dropped, and so is any later root that loads the
    module again (tainted)."""
    if _changes_nothing(target, caller):
        return
    if isinstance(target, int):
        path = "fd %d" % target
    else:
        try:
            path = os.fsdecode(os.fspath(target)) if target is not None else "?"
        except TypeError:
            path = repr(target)
    why = "changed files while loading: %s (%s)" % (path, event)
    recorder.drop(why)
    recorder.taint(_loading(caller), why)
    raise RuntimeError("warm does not preload a module that changes files while loading (%s %s)" % (event, path))


def _loading(frame):
    """The module whose loading is under way innermost at a frame (its own
    code, or code it calls at its top level), or None outside any import."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "_find_and_load" and code.co_filename == "<frozen importlib._bootstrap>":
            return frame.f_locals.get("name")
        frame = frame.f_back
    return None


# Audit events of every way Python code starts a program (subprocess,
# os.system, os.popen, os.posix_spawn*, os.exec*, os.spawn* and pty, which fork).
_SPAWNS = frozenset(("subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.fork", "os.forkpty"))

# Audit events of a socket bound, connected, or sent to an address (sendto
# and sendmsg bind a UDP socket that has no address yet).
_SOCKETS = frozenset(("socket.bind", "socket.connect", "socket.sendto", "socket.sendmsg"))


def _names_address(event, args):
    """Whether a socket call reaches an address someone chose: any connect
    or send to an address, a bind to a path or a port. A bind to port 0 (an
    unused port the kernel picks: urllib3 probes IPv6 so at import, then
    closes the socket) can take nothing from anyone."""
    address = args[1] if len(args) > 1 else None
    if event == "socket.bind":
        return not (isinstance(address, tuple) and len(address) >= 2 and address[1] == 0)
    return event == "socket.connect" or address is not None


def _frames(frame):
    while frame is not None:
        yield frame
        frame = frame.f_back


def _note_listing(path):
    """A directory a module listed while loading (plugin discovery, glob,
    os.walk): a new or removed entry there can change what loads. The
    import system's own listings (each sys.path directory) are not this."""
    caller = _getframe(2)  # the Python code that called os.listdir/os.scandir
    if caller.f_code.co_filename.startswith("<frozen importlib"):
        return
    if path is None or path in ("", b""):
        path = "."
    path = _absolute(path)
    if path is None:
        return
    path = os.path.normpath(path)
    if not path.startswith(("/dev/", "/proc/", "/sys/")) and "/__pycache__" not in path:
        recorder.dirs_listed.add(path)


def _in_root_import(frame):
    """Whether a frame is one of importlib's under which the root being
    preloaded loads: a direct run has the same ones, but their f_back leads
    to warm's frames."""
    while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        frame = frame.f_back
    return frame is not None and any(frame is f for f in recorder.below)


def _seen(frame):
    """A frame handed to a loading module: one of warm's drops the module;
    one of the root's importlib frames comes as a view whose f_back does."""
    if any(frame is f for f in recorder.below):
        recorder.drop("looked at the frames of whoever imported it while loading (a preloaded module's importer is warm's)")
    elif recorder.active and _in_root_import(frame):
        return FrameView(frame)
    return frame


class FrameView:
    """A frame of the root's import as a loading module sees it (compiled
    modules have no frame of their own, so typing's TypeVar lands here to
    read its module's name): everything is the frame's, and stepping back
    past it goes through _seen()."""

    __slots__ = ("_frame",)

    def __init__(self, frame):
        object.__setattr__(self, "_frame", frame)

    def __getattr__(self, attr):
        frame = object.__getattribute__(self, "_frame")
        return _seen(frame.f_back) if attr == "f_back" else getattr(frame, attr)

    def __setattr__(self, attr, value):
        setattr(object.__getattribute__(self, "_frame"), attr, value)


def _walker(frame):
    """Whether a frame is inspect's or traceback's code that walks the whole stack."""
    name = frame.f_code.co_filename
    return frame.f_code.co_name != "currentframe" and any(name == getattr(sys.modules.get(m), "__file__", None) for m in ("inspect", "traceback"))


def warned_outside():
    """Whether a warning issued while loading named a frame of warm's as
    its place (a stacklevel reaching the importer): CPython then made a
    __warningregistry__ in that frame's globals (or in sys's, past the
    stack's end), whether or not the warning showed. Clears them."""
    warned = False
    for space in [f.f_globals for f in recorder.below] + [sys.__dict__]:
        if space.pop("__warningregistry__", None) is not None:
            warned = True
    return warned


def install():
    env_cls = os._Environ
    get, it = env_cls.__getitem__, env_cls.__iter__
    setitem, delitem = env_cls.__setitem__, env_cls.__delitem__
    getcwd, getcwdb, umask = os.getcwd, os.getcwdb, os.umask
    real_stat, real_lstat, term_size, ioctl = os.stat, os.lstat, os.get_terminal_size, fcntl.ioctl
    getframe = sys._getframe
    recorder.below = tuple(_frames(getframe(1)))  # from preload() down

    def traced_getframe(depth=0, /):
        frame = getframe(depth + 1) if isinstance(depth, int) else getframe(depth)
        if not recorder.active:
            return frame
        if _walker(getframe(1)):
            recorder.drop("took its stack while loading (a preloaded module's importer is warm's)")
            return frame
        return _seen(frame)

    modname = getattr(sys, "_getframemodulename", None)  # 3.12+: typing's way to its caller's module

    def traced_modname(depth=0, /):
        if recorder.active and isinstance(depth, int):
            try:
                _seen(getframe(depth + 1))
            except ValueError:
                pass
        return modname(depth + 1) if isinstance(depth, int) else modname(depth)

    def env_get(self, key):
        if recorder.active:
            recorder.env_read.add(key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key)
        return get(self, key)

    def env_set(self, key, value):
        # A write that leaves the variable as it was is a read (its value is
        # in the key); any other reaches no child, whose env is its caller's.
        if recorder.active:
            name = key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key
            recorder.env_read.add(name)
            if get_or_none(self, key) != value:
                recorder.drop("wrote os.environ[%r] while loading (a child's environment is its caller's)" % name)
        return setitem(self, key, value)

    def env_del(self, key):
        if recorder.active:
            name = key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key
            recorder.env_read.add(name)
            if get_or_none(self, key) is not None:
                recorder.drop("deleted os.environ[%r] while loading (a child's environment is its caller's)" % name)
        return delitem(self, key)

    def get_or_none(env, key):
        try:
            return get(env, key)
        except KeyError:
            return None

    def env_iter(self):
        if recorder.active:
            recorder.drop("read the whole environment while loading")
        return it(self)

    def cwd():
        recorder.cwd_read = recorder.cwd_read or (recorder.active and not _copying_cwd())
        return getcwd()

    def cwdb():
        recorder.cwd_read = recorder.cwd_read or (recorder.active and not _copying_cwd())
        return getcwdb()

    def read_umask(mask):
        recorder.umask_read = recorder.umask_read or recorder.active
        return umask(mask)

    def traced_stat(path, *args, **kwargs):
        _note_file(path, False)
        return real_stat(path, *args, **kwargs)

    def traced_lstat(path, *args, **kwargs):
        _note_file(path, False)
        return real_lstat(path, *args, **kwargs)

    def terminal_size(*args):
        size = term_size(*args)  # raises where the fd is no terminal: the same in every child of this key
        recorder.drop("read the terminal's size while loading (a caller's differs)")
        return size

    def traced_ioctl(fd, request, *args):
        if request == termios.TIOCGWINSZ:
            recorder.drop("read the terminal's size while loading (a caller's differs)")
        return ioctl(fd, request, *args)

    _saved.update(env=(get, it), os=(getcwd, getcwdb, umask), stat=(real_stat, real_lstat, term_size), ioctl=ioctl,
                  getframe=(getframe, modname), std=(sys.stdin, sys.stdout, sys.stderr))
    if not _hooked:
        sys.addaudithook(_audit)  # for good (hooks cannot be removed); idle unless recording
        _hooked.append(True)
    env_cls.__getitem__, env_cls.__iter__ = env_get, env_iter
    env_cls.__setitem__, env_cls.__delitem__ = env_set, env_del
    _saved["env_writes"] = (setitem, delitem)
    os.getcwd, os.getcwdb, os.umask = cwd, cwdb, read_umask
    os.stat, os.lstat, os.get_terminal_size = traced_stat, traced_lstat, terminal_size
    fcntl.ioctl = traced_ioctl
    sys._getframe = traced_getframe
    if modname is not None:
        sys._getframemodulename = traced_modname
    sys.stdin, sys.stdout, sys.stderr = StdStandIn("stdin"), StdStandIn("stdout"), StdStandIn("stderr")
    sys.meta_path.insert(0, _tainted)
    recorder.active = True


def uninstall():
    recorder.active = False
    if _tainted in sys.meta_path:
        sys.meta_path.remove(_tainted)
    os._Environ.__getitem__, os._Environ.__iter__ = _saved["env"]
    os._Environ.__setitem__, os._Environ.__delitem__ = _saved["env_writes"]
    os.getcwd, os.getcwdb, os.umask = _saved["os"]
    os.stat, os.lstat, os.get_terminal_size = _saved["stat"]
    fcntl.ioctl = _saved["ioctl"]
    sys._getframe = _saved["getframe"][0]
    if _saved["getframe"][1] is not None:
        sys._getframemodulename = _saved["getframe"][1]
    recorder.below = ()
    # Stand-ins a module kept stay as they are (they forward); sys's own go back.
    std = _saved["std"]
    if isinstance(sys.stdin, StdStandIn):
        sys.stdin = std[0]
    if isinstance(sys.stdout, StdStandIn):
        sys.stdout = std[1]
    if isinstance(sys.stderr, StdStandIn):
        sys.stderr = std[2]
