# What a module may change about the whole process while it loads, that a
# child does not simply inherit: each child takes on its caller's working
# directory, umask and NOFILE soft limit, and CPython reseeds `random` in
# every forked child. So a root whose import changed one of them is not
# preloaded (it loads in each run, and its change holds there, as in a
# direct run), and the template puts the state back before the next root.
import os
import resource
import sys

# The real calls, taken before the recorders wrap them (a read here is warm's, not a module's).
_getcwd, _chdir, _umask = os.getcwd, os.chdir, os.umask


def snapshot():
    mask = _umask(0)
    _umask(mask)
    rand = sys.modules.get("random")
    return {
        "working directory": _getcwd(),
        "umask": mask,
        "open files limit (RLIMIT_NOFILE)": resource.getrlimit(resource.RLIMIT_NOFILE),
        # Only once loaded: a root that first imports random and seeds it is not seen.
        "random state (random.seed)": rand.getstate() if rand is not None and hasattr(rand, "getstate") else None,
    }


def changed(before):
    """What differs from `before`, by name (empty if nothing)."""
    now = snapshot()
    return [k for k, v in before.items() if v is not None and now[k] != v]


def restore(before):
    _chdir(before["working directory"])
    _umask(before["umask"])
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, before["open files limit (RLIMIT_NOFILE)"])
    except (ValueError, OSError):
        pass  # a hard limit lowered cannot be raised again: the template's children keep it (as their caller's soft is set)
    rand = sys.modules.get("random")
    if before["random state (random.seed)"] is not None and rand is not None:
        rand.setstate(before["random state (random.seed)"])
