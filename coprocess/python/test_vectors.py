"""Checks warm_coprocess.py's frame reader and run parser against
protocol-spec/coprocess-vectors.txt: each frame goes through a real
socketpair; each frame to the shim is written by shim_frame. Prints
"ok <name>" per vector; exits 1 on any failure."""
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import warm_coprocess  # noqa: E402


def render(b):
    out = []
    for c in b:
        if c in (0x22, 0x5C):
            out.append("\\" + chr(c))
        elif 0x20 <= c <= 0x7E:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return ' b"' + "".join(out) + '"'


def decode(frame):
    a, b = socket.socketpair()
    writer = threading.Thread(target=lambda: (b.sendall(frame), b.close()))
    writer.start()
    try:
        m, _ = warm_coprocess.recv_frame(a)
        return warm_coprocess.parse_run(m)
    finally:
        writer.join()
        a.close()


def main(path):
    failed, block = False, None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word in ("run", "reject", "shim"):
            block = {"kind": word, "name": rest, "hex": "", "want": []}
        elif word == "frame":
            block["hex"] += rest
        elif word == "end" and block["kind"] == "shim":
            says = block["want"][0].split()
            kind, value = ("started", says[1]) if says[0] == "started" else (says[1], says[2])
            ok = warm_coprocess.shim_frame(kind, int(value)) == bytes.fromhex(block["hex"])
            print(("ok " if ok else "FAIL ") + block["name"])
            failed = failed or not ok
        elif word == "end":
            try:
                argv, env, cwd, umask = decode(bytes.fromhex(block["hex"]))
                got = ["argv" + "".join(map(render, argv)), "env" + "".join(map(render, env)), "cwd" + render(cwd), "umask %d" % umask]
                ok = block["kind"] == "run" and got == block["want"]
            except (ValueError, TypeError, KeyError, UnicodeDecodeError):
                ok = block["kind"] == "reject"
            print(("ok " if ok else "FAIL ") + block["name"])
            failed = failed or not ok
        else:
            block["want"].append(line)
    return 1 if failed else 0


sys.exit(main(sys.argv[1]))
