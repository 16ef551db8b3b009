#!/usr/bin/env python3
# warm: coprocess
# An example coprocess CLI: prints what it was given (argv, a sorted env
# subset, cwd, umask, stdin with --stdin), and ends as EX_EXIT / EX_SIGNAL
# say (--raise raises); with EX_GATE=file it first prints its pid and waits
# for that file. The warm patch is the import and the last line.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import warm_coprocess  # noqa: E402


def main(argv):
    out = sys.stdout.buffer
    if os.environ.get("EX_GATE"):
        out.write(b"pid %d\n" % os.getpid())
        out.flush()
        while not os.path.exists(os.environ["EX_GATE"]):
            time.sleep(0.01)
    out.write(b"argv " + b" ".join(repr(os.fsencode(a)).encode() for a in argv[1:]) + b"\n")
    out.write(b"cwd " + os.getcwdb() + b"\n")
    mask = os.umask(0)
    os.umask(mask)
    out.write(b"umask %o\n" % mask)
    out.write(b"env " + b" ".join(k + b"=" + v for k, v in sorted(os.environb.items()) if k.startswith(b"EX_")) + b"\n")
    out.write(b"tty %d%d%d\n" % (os.isatty(0), os.isatty(1), os.isatty(2)))
    if "--stdin" in argv:
        out.write(b"stdin " + sys.stdin.buffer.read() + b"\n")
    sys.stderr.write("to stderr\n")
    if "--raise" in argv:
        raise RuntimeError("asked to")
    if os.environ.get("EX_SIGNAL"):
        out.flush()
        os.kill(os.getpid(), int(os.environ["EX_SIGNAL"]))
    return int(os.environ.get("EX_EXIT", "0"))


# EX_SERIAL: serial mode (the library's other loop), for its tests.
warm_coprocess.run(main, watch=[__file__], env=["EX_DECLARED"], mode="serial" if os.environ.get("EX_SERIAL") else "fork")
