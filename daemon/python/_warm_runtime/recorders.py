# Traps set while the template imports a tool's modules, to learn what each
# module takes from the process at import time. A module that reads an env
# variable, the working directory or the umask makes that value part of the
# pool's key (the daemon keys on it); one that copies sys.argv gets the
# caller's argv written into that copy in every child; one that asks other
# questions of argv, enumerates the environment, reads stdin or writes
# output is dropped from preloading (it will load in the child, per run).
import builtins
import io
import os
import sys

# The template's stand-in argv: distinctive values, so a copy of it (or of a
# slice, as str or as bytes) can be found among a module's globals later.
ARGV = ["\udcffwarm-argv-%d" % i for i in range(3)]


class Recorder:
    def __init__(self):
        self.active = False
        self.current = None  # the top-level module being preloaded
        self.env_read = set()
        self.cwd_read = False
        self.umask_read = False
        self.files_read = set()
        self.argv_copiers = set()
        self.dropped = {}  # module -> why
        self.owner = {}  # every module loaded -> the top-level preload that loaded it

    def drop(self, why):
        if self.active and self.current and self.current not in self.dropped:
            self.dropped[self.current] = why


recorder = Recorder()


def _caller_module(depth):
    try:
        return sys._getframe(depth + 1).f_globals.get("__name__")
    except (ValueError, AttributeError):
        return None


class ArgvStandIn(list):
    """sys.argv while preloading: copies are noted, questions drop the module."""

    def __iter__(self):
        if recorder.active:
            name = _caller_module(1)
            if name:
                recorder.argv_copiers.add(name)
        return list.__iter__(self)

    def __getitem__(self, index):
        if recorder.active:
            if isinstance(index, slice):
                name = _caller_module(1)
                if name:
                    recorder.argv_copiers.add(name)
            else:
                recorder.drop("read sys.argv[%r] while loading" % (index,))
        return list.__getitem__(self, index)

    def _question(what):
        def ask(self, *args):
            recorder.drop("asked sys.argv %s while loading" % what)
            return getattr(list, what)(self, *args)
        return ask

    __contains__ = _question("__contains__")
    __len__ = _question("__len__")
    index = _question("index")
    count = _question("count")
    del _question


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


_saved = {}


def install():
    env_cls = os._Environ
    get, it = env_cls.__getitem__, env_cls.__iter__
    getcwd, getcwdb, umask = os.getcwd, os.getcwdb, os.umask
    real_open = builtins.open

    def env_get(self, key):
        if recorder.active:
            recorder.env_read.add(key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key)
        return get(self, key)

    def env_iter(self):
        if recorder.active:
            recorder.drop("read the whole environment while loading")
        return it(self)

    def cwd():
        recorder.cwd_read = recorder.cwd_read or recorder.active
        return getcwd()

    def cwdb():
        recorder.cwd_read = recorder.cwd_read or recorder.active
        return getcwdb()

    def read_umask(mask):
        recorder.umask_read = recorder.umask_read or recorder.active
        return umask(mask)

    def traced_open(file, *args, **kwargs):
        f = real_open(file, *args, **kwargs)
        mode = args[0] if args else kwargs.get("mode", "r")
        # Files read while loading: a change to one makes the template stale.
        if recorder.active and isinstance(file, (str, bytes)) and not set("wax+") & set(mode):
            path = os.fsdecode(file)
            recorder.files_read.add(path if path.startswith("/") else os.path.join(getcwd(), path))
        return f

    _saved.update(env=(get, it), os=(getcwd, getcwdb, umask), open=real_open,
                  std=(sys.stdin, sys.stdout, sys.stderr))
    env_cls.__getitem__, env_cls.__iter__ = env_get, env_iter
    os.getcwd, os.getcwdb, os.umask = cwd, cwdb, read_umask
    builtins.open = io.open = traced_open
    sys.argv = ArgvStandIn(ARGV)
    sys.stdin, sys.stdout, sys.stderr = StdStandIn("stdin"), StdStandIn("stdout"), StdStandIn("stderr")
    recorder.active = True


def uninstall():
    recorder.active = False
    os._Environ.__getitem__, os._Environ.__iter__ = _saved["env"]
    os.getcwd, os.getcwdb, os.umask = _saved["os"]
    builtins.open = io.open = _saved["open"]
    # Stand-ins a module kept stay as they are (they forward); sys's own go back.
    std = _saved["std"]
    if isinstance(sys.stdin, StdStandIn):
        sys.stdin = std[0]
    if isinstance(sys.stdout, StdStandIn):
        sys.stdout = std[1]
    if isinstance(sys.stderr, StdStandIn):
        sys.stderr = std[2]


def argv_copies():
    """Where modules that iterated sys.argv keep their copy: a list of
    (module, global name, start, length, to_end, as_bytes, as_tuple). A copier whose copy is
    not a plain global is dropped (its copy could not be made the caller's)."""
    found = []
    str_argv = list(ARGV)
    bytes_argv = [os.fsencode(a) for a in ARGV]
    for name in sorted(recorder.argv_copiers):
        module = sys.modules.get(name)
        hits = []
        for gname, value in list(getattr(module, "__dict__", {}).items()):
            if isinstance(value, ArgvStandIn) or not isinstance(value, (list, tuple)) or not value:
                continue
            for ref, as_bytes in ((str_argv, False), (bytes_argv, True)):
                start = _slice_start(list(value), ref)
                if start is not None:
                    hits.append((name, gname, start, len(value), start + len(value) == len(ref), as_bytes, isinstance(value, tuple)))
        if hits:
            found += hits
        else:
            recorder.dropped.setdefault(_top(name), "derived something from sys.argv while loading")
    return found


def _slice_start(value, ref):
    for start in range(len(ref)):
        if value == ref[start:start + len(value)]:
            return start
    return None


def _top(name):
    # Attributed to the module the preload loop was importing when it loaded.
    return recorder.owner.get(name, name)
