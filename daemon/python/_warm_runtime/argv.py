# sys.argv while the template preloads, and after. Loading happens before
# any caller is known, so the template's argv can only be a stand-in; the
# rule is that nothing a module keeps of it can differ from the caller's:
#   - the list object itself (a default argument `def main(args=sys.argv)`,
#     an attribute, a closure): the stand-in *is* sys.argv for good (after
#     preloading it becomes a plain list, see become_list), and every child
#     fills that very object in place with the caller's argv;
#   - a copy (list(sys.argv), sys.argv[1:], as str or bytes) kept in a
#     module global: found by its distinctive values and overwritten with
#     the matching slice of the caller's argv in every child;
#   - anything else (an element, the length, a membership test, a joined
#     string, a mutation, a copy kept anywhere but a plain global): the
#     module that did it is dropped from preloading and loads per run.
import ctypes
import os
import sys
import types

from .recorders import _getframe, recorder

# Distinctive values, so a copy (or a string made from one) can be found later.
MARK = "\udcffwarm-argv-"
ARGV = [MARK + str(i) for i in range(3)]
_MARK_BYTES = os.fsencode(MARK)


def _caller_module(depth):
    try:
        return _getframe(depth + 1).f_globals.get("__name__")
    except (ValueError, AttributeError):
        return None


def _copied(what):
    def note(self, *args):
        if recorder.active:
            name = _caller_module(1)
            if name:
                recorder.argv_copiers.add(name)
        return getattr(list, what)(self, *args)
    return note


def _question(what):
    def ask(self, *args, **kwargs):
        if recorder.active:
            recorder.drop("used sys.argv.%s while loading" % what)
        return getattr(list, what)(self, *args, **kwargs)
    return ask


class ArgvStandIn(list):
    """sys.argv while preloading. No slots: its layout is exactly a list's,
    so that become_list can make it one."""

    __slots__ = ()

    def __getitem__(self, index):
        if recorder.active:
            if isinstance(index, slice):
                name = _caller_module(1)
                if name:
                    recorder.argv_copiers.add(name)
            else:
                recorder.drop("read sys.argv[%r] while loading" % (index,))
        return list.__getitem__(self, index)

    def __reduce_ex__(self, protocol):
        return (list, (list(self),))

    __iter__ = _copied("__iter__")
    copy = _copied("copy")


# Every other list operation reads or changes the stand-in's values: a question.
for _name in dir(list):
    if _name in ("__getitem__", "__iter__", "copy", "__class__", "__new__", "__init__", "__init_subclass__", "__subclasshook__",
                 "__getattribute__", "__setattr__", "__delattr__", "__dir__", "__doc__", "__hash__", "__class_getitem__", "__reduce_ex__"):
        continue
    if callable(getattr(list, _name)):
        setattr(ArgvStandIn, _name, _question(_name))
del _name


def stand_in():
    return ArgvStandIn(ARGV)


def become_list(argv):
    """Turns the stand-in into a plain list (type(sys.argv) is list, as in a
    direct run) by setting its type pointer: the layouts are the same.
    Returns False, and leaves it as it is, where that cannot be checked."""
    cls = type(argv)
    if cls is list:
        return True
    if cls.__basicsize__ != list.__basicsize__ or cls.__itemsize__ != list.__itemsize__ or cls.__dictoffset__ or cls.__weakrefoffset__:
        return False
    slot = ctypes.c_void_p.from_address(id(argv) + ctypes.sizeof(ctypes.c_ssize_t))
    if slot.value != id(cls):
        return False  # not the object header this expects (another build)
    slot.value = id(list)  # the class keeps the reference the instance held: it is never freed
    return type(argv) is list


def copies():
    """Where modules that iterated or sliced sys.argv keep their copy: a list
    of (module, global name, start, length, to_end, as_bytes, as_tuple). A
    copier whose copy is not a plain global is dropped (its copy could not
    be made the caller's)."""
    found = []
    str_argv = list(ARGV)
    bytes_argv = [os.fsencode(a) for a in ARGV]
    for name in sorted(recorder.argv_copiers):
        module = sys.modules.get(name)
        hits = []
        for gname, value in list(getattr(module, "__dict__", {}).items()):
            kind = type(value)  # not isinstance(), which asks a proxy (Django's settings) its __class__
            if issubclass(kind, ArgvStandIn) or not issubclass(kind, (list, tuple)) or not value:
                continue
            for ref, as_bytes in ((str_argv, False), (bytes_argv, True)):
                start = _slice_start(list(value), ref)
                if start is not None:
                    hits.append((name, gname, start, len(value), start + len(value) == len(ref), as_bytes, issubclass(kind, tuple)))
        if hits:
            found += hits
        else:
            recorder.dropped.setdefault(recorder.top(name), "derived something from sys.argv while loading")
    return found


def _slice_start(value, ref):
    for start in range(len(ref)):
        if value == ref[start:start + len(value)]:
            return start
    return None


def find_derived(modules, known, argv):
    """Drops modules that keep anything else made from the stand-in's values
    (a joined string, a formatted message) within reach of their globals:
    classes, function defaults and closures, containers, a few levels deep.
    `known` are the (module, global) copies that children overwrite; `argv`
    is the stand-in itself, which children fill."""
    for name in modules:
        module = sys.modules.get(name)
        space = module.__dict__ if isinstance(module, types.ModuleType) else {}
        for gname, value in list(space.items()):
            if (name, gname) in known or value is argv:
                continue
            try:
                held = _holds_mark(value, 4, {id(argv)})
            except Exception:  # noqa: BLE001 - a value that cannot be looked into is not argv's
                held = False
            if held:
                recorder.dropped.setdefault(recorder.top(name), "kept something made from sys.argv (%s)" % gname)
                break


def _holds_mark(value, depth, seen):
    # By exact types only: no attribute of an arbitrary object is asked for
    # (a lazy module, six.moves, would import on it).
    kind = type(value)
    if kind is str:
        return MARK in value
    if kind in (bytes, bytearray):
        return _MARK_BYTES in value
    if depth == 0 or id(value) in seen:
        return False
    seen.add(id(value))
    if kind is dict:
        items = list(value.keys()) + list(value.values())
    elif kind in (list, tuple, set, frozenset):
        items = list(value)
    elif issubclass(kind, type):
        items = [v for k, v in type.__dict__["__dict__"].__get__(value).items() if not k.startswith("__")]
    elif kind in (staticmethod, classmethod):
        items = [value.__func__]
    elif kind is types.FunctionType:
        items = list(value.__defaults__ or ()) + list((value.__kwdefaults__ or {}).values())
        for cell in value.__closure__ or ():
            try:
                items.append(cell.cell_contents)
            except ValueError:
                pass
    else:
        return False
    return any(_holds_mark(v, depth - 1, seen) for v in items)
