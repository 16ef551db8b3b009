# Checks protocol-spec/vectors.txt against the Python runtime's codec
# (daemon/python/_warm_runtime/wire.py). Prints "ok <name>" per vector and
# "FAIL <name>: why" otherwise; exits 1 on any failure.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "daemon", "python"))
from _warm_runtime.wire import MAX_FRAME, WireError, decode_value, encode_frame  # noqa: E402


def quote(raw):
    out = []
    for b in raw:
        if b == 0x22:
            out.append('\\"')
        elif b == 0x5C:
            out.append("\\\\")
        elif 0x20 <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return '"' + "".join(out) + '"'


def render(v):
    if v is None:
        return "nil"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return quote(v.encode("utf-8", "surrogateescape"))
    if isinstance(v, bytes):
        return "b" + quote(v)
    if isinstance(v, list):
        return "[" + ", ".join(render(x) for x in v) + "]"
    return "{" + ", ".join(render(k) + ": " + render(x) for k, x in v.items()) + "}"


def decode_frame(frame):
    if len(frame) < 4:
        raise WireError("truncated", "no length")
    n = int.from_bytes(frame[:4], "big")
    if n == 0:
        raise WireError("frame-empty", "empty")
    if n > MAX_FRAME:
        raise WireError("frame-too-large", "too large")
    if len(frame) < 4 + n:
        raise WireError("truncated", "short")
    if len(frame) > 4 + n:
        raise WireError("trailing-bytes", "extra")
    return decode_value(frame[4:])


def main(path):
    failed = 0
    cur = None
    for line in open(path, encoding="utf-8").read().split("\n"):
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word in ("vector", "reject"):
            cur = {"kind": word, "name": rest, "hex": "", "expect": ""}
        elif word == "frame":
            cur["hex"] += rest
        elif word in ("value", "error"):
            cur["expect"] = rest
        elif word == "end":
            why = check(cur["kind"], bytes.fromhex(cur["hex"]), cur["expect"])
            print(("FAIL %s: %s" if why else "ok %s%s") % (cur["name"], why or ""))
            failed += bool(why)
    return 1 if failed else 0


def check(kind, frame, expect):
    try:
        value = decode_frame(frame)
    except WireError as e:
        return None if kind == "reject" and e.code == expect else "error %s" % e.code
    if kind == "reject":
        return "decoded, expected error %s" % expect
    if render(value) != expect:
        return "got %s" % render(value)
    again = render(decode_frame(encode_frame(value)))
    return None if again == expect else "round trip gave %s" % again


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
