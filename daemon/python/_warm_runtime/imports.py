# Which modules a run imported, and how: what a template may preload next
# time. Two rules make preloading load modules as the direct run did:
#   - the import graph, not a flat list: a run reports only its *roots*,
#     the modules whose import started while no other import was under way
#     (at a script's top level, or inside a function at run time), in the
#     order their imports started. The template imports those roots in that
#     order, so every module under them loads from the same importer, in
#     the same order, as directly (circular imports, mypyc's compiled
#     groups). Listing submodules on their own would import them (and their
#     packages) in another order;
#   - only installed code: a module is preloaded only if the interpreter's
#     standard library or one of its site-packages directories holds its
#     file, and a standard loader (source, bytecode, extension, builtin,
#     frozen, namespace) loaded it. The user's own modules (the script's
#     directory, the cwd on sys.path with -m, PYTHONPATH entries, editable
#     installs, a test runner's test files and conftest, anything loaded by
#     an import hook such as pytest's assertion rewriter) always load in the
#     child, per run: their side effects, `time.time()` at import and
#     rewriting happen as directly. Installed modules that the user's
#     module imported are roots in its place.
import importlib.machinery as machinery
import os
import site
import sys
import sysconfig
import types

_bootstrap = sys.modules["importlib._bootstrap"]
_BOOTSTRAP_FILE = "<frozen importlib._bootstrap>"
_LOADERS = tuple(
    c for c in (machinery.SourceFileLoader, machinery.SourcelessFileLoader, machinery.ExtensionFileLoader, machinery.BuiltinImporter,
                machinery.FrozenImporter, getattr(machinery, "NamespaceLoader", None),
                getattr(sys.modules.get("importlib._bootstrap_external"), "_NamespaceLoader", None)) if c is not None)

# (name, the module whose import was under way, or None), in the order imports started.
started = []
_noted = set()
_recording = [False]
_stopped = [False]
_original_find_spec = [None]


def _note(name):
    """Called as the import of `name` looks for its spec: finds the imports
    under way around it, from importlib's own frames. An import of `a.b`
    imports its package `a` before it looks for its own spec, and `a` may
    import `a.b` itself (multiprocessing does): then `a.b` never looks for
    its spec, yet its import started first, around `a`'s, and is noted so."""
    f = sys._getframe(2)
    chain = []  # the imports under way, innermost (this one) first
    while f is not None:
        code = f.f_code
        if code.co_name == "_find_and_load" and code.co_filename == _BOOTSTRAP_FILE:
            under_way = f.f_locals.get("name")
            if not chain and under_way != name:
                return  # not an import (someone asked importlib for a spec)
            chain.append(under_way)
        f = f.f_back
    for i in range(len(chain) - 1, -1, -1):
        if i == 0 or chain[i] not in _noted:
            _noted.add(chain[i])
            started.append((chain[i], chain[i + 1] if i + 1 < len(chain) else None))


def install():
    """Wraps importlib's _find_spec, which every import of a module not yet
    loaded goes through, whatever its finder. The wrapper is compiled as
    importlib's own code, so CPython trims it from tracebacks as it trims
    importlib's frames. Idle until record() in a child."""
    if getattr(_bootstrap._find_spec, "_warm", False):
        return
    space = {"original": _bootstrap._find_spec, "recording": _recording, "note": _note}
    source = ("def _find_spec(name, path, target=None):\n"
              "    if recording[0]:\n"
              "        note(name)\n"
              "    return original(name, path, target)\n")
    exec(compile(source, _BOOTSTRAP_FILE, "exec"), space)
    space["_find_spec"]._warm = True
    _original_find_spec[0] = _bootstrap._find_spec
    _bootstrap._find_spec = space["_find_spec"]


def record():
    _recording[0] = True


def stop():
    """Takes the wrapper out for the rest of the run: a tracer or profiler
    the tool set (child.py) would see it and _note, frames a direct run
    does not have. What the run imported is then not learned."""
    _recording[0] = False
    _stopped[0] = True
    if _original_find_spec[0] is not None:
        _bootstrap._find_spec = _original_find_spec[0]


def stopped():
    return _stopped[0]


def installed_dirs():
    """The directories whose modules may be preloaded: the standard library
    and every site-packages directory of this interpreter (a virtualenv's
    included, even inside a project: installed packages, not its code)."""
    paths = sysconfig.get_paths()
    dirs = [paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    try:
        dirs += site.getsitepackages()
    except AttributeError:
        pass
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    out = set()
    for d in dirs:
        if d and d.startswith("/"):
            out.add(d.rstrip("/") + "/")
            out.add(os.path.realpath(d).rstrip("/") + "/")
    return tuple(sorted(out))


def preloadable(module, dirs):
    """Installed code loaded the standard way (see the rules above): what a
    run may report as a root."""
    spec = getattr(module, "__spec__", None)
    loader = getattr(spec, "loader", None)
    if spec is None or (loader if isinstance(loader, type) else type(loader)) not in _LOADERS:
        return False
    return spec.origin in ("built-in", "frozen") or not foreign(module, dirs)


def foreign(module, dirs):
    """Whether a module's code is not installed code: the user's own. An
    alias an import hook made of an installed module (six.moves) is not;
    nor is a module some code made and put in sys.modules (typing.io),
    which is part of the module that made it."""
    spec = getattr(module, "__spec__", None)
    if spec is not None and spec.has_location:
        files = [spec.origin]
    else:
        f = module.__dict__.get("__file__") if isinstance(module, types.ModuleType) else None
        files = [f] if isinstance(f, str) else list(getattr(spec, "submodule_search_locations", None) or ())
    return not all(isinstance(f, str) and f.startswith(dirs) for f in files)


def roots(new, dirs):
    """The roots of this run to report: `new` names the modules it loaded
    that the template had not. A preloadable module is a root unless a
    preloadable module's import was under way when it started."""
    parent = {}
    order = []
    for name, up in started:
        if name not in parent:
            parent[name] = up
            order.append(name)
    ok = {name: preloadable(sys.modules.get(name), dirs) for name in order if name in new}
    out = []
    for name in order:
        if not ok.get(name):
            continue
        up = parent[name]
        while up is not None and not ok.get(up):
            up = parent.get(up)
        if up is None:
            out.append(name)
    return out
