# The runtime link's codec and framing, as the spec defines them: a 4-byte
# big-endian length, then one msgpack map; fds ride with a frame's first
# byte. Checked against protocol-spec/vectors.txt like every other codec.
import _socket
import os
import sys

MAX_FRAME = 16 * 1024 * 1024
MAX_DEPTH = 8
MAX_INT = 2 ** 53 - 1
_CLOEXEC = getattr(_socket, "MSG_CMSG_CLOEXEC", 0)


class WireError(Exception):
    def __init__(self, code, why):
        Exception.__init__(self, why)
        self.code = code


def decode_value(buf):
    """Decodes one msgpack map from bytes; str as str, bin as bytes."""
    view = memoryview(buf)
    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(view):
            raise WireError("truncated", "message ends inside a value")
        pos += n
        return bytes(view[pos - n:pos])

    def uint(n):
        return int.from_bytes(take(n), "big")

    def sint(n):
        return int.from_bytes(take(n), "big", signed=True)

    def read(depth, is_key):
        if depth > MAX_DEPTH:
            raise WireError("too-deep", "nesting too deep")
        b = uint(1)
        if 0xa0 <= b <= 0xbf:
            return text(b & 0x1F)
        if b in (0xD9, 0xDA, 0xDB):
            return text(uint({0xD9: 1, 0xDA: 2, 0xDB: 4}[b]))
        if is_key:
            raise WireError("bad-type", "map keys must be str")
        if b <= 0x7F:
            return b
        if b >= 0xE0:
            return b - 0x100
        if b <= 0x8F:
            return mapping(b & 0x0F, depth)
        if b <= 0x9F:
            return array(b & 0x0F, depth)
        if b == 0xC0:
            return None
        if b == 0xC2:
            return False
        if b == 0xC3:
            return True
        if b in (0xC4, 0xC5, 0xC6):
            return take(uint({0xC4: 1, 0xC5: 2, 0xC6: 4}[b]))
        if b in (0xCC, 0xCD, 0xCE, 0xCF):
            v = uint({0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}[b])
        elif b in (0xD0, 0xD1, 0xD2, 0xD3):
            v = sint({0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}[b])
        elif b in (0xDC, 0xDD):
            return array(uint(2 if b == 0xDC else 4), depth)
        elif b in (0xDE, 0xDF):
            return mapping(uint(2 if b == 0xDE else 4), depth)
        else:
            raise WireError("bad-type", "msgpack type 0x%02x is not allowed" % b)
        if v > MAX_INT or v < -MAX_INT:
            raise WireError("bad-type", "integer beyond 53 bits")
        return v

    def text(n):
        raw = take(n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("utf-8", "surrogateescape")

    def array(n, depth):
        return [read(depth + 1, False) for _ in range(n)]

    def mapping(n, depth):
        out = {}
        for _ in range(n):
            k = read(depth + 1, True)
            out[k] = read(depth + 1, False)
        return out

    value = read(1, False)
    if pos != len(view):
        raise WireError("trailing-bytes", "bytes left after the message")
    if not isinstance(value, dict):
        raise WireError("not-a-map", "a message must be a msgpack map")
    return value


def _head(out, small, small_max, codes, n):
    if n <= small_max:
        out.append(small | n)
    elif codes[0] and n < 0x100:
        out += bytes((codes[0], n))
    elif n < 0x10000:
        out.append(codes[1])
        out += n.to_bytes(2, "big")
    else:
        out.append(codes[2])
        out += n.to_bytes(4, "big")


def _encode(out, v):
    if v is None:
        out.append(0xC0)
    elif v is True:
        out.append(0xC3)
    elif v is False:
        out.append(0xC2)
    elif isinstance(v, int):
        if v > MAX_INT or v < -MAX_INT:
            raise WireError("bad-type", "only 53-bit integers can be sent")
        if 0 <= v < 0x80:
            out.append(v)
        elif -32 <= v < 0:
            out.append(v + 0x100)
        elif 0 <= v < 2 ** 32:
            size = 1 if v < 0x100 else 2 if v < 0x10000 else 4
            out.append({1: 0xCC, 2: 0xCD, 4: 0xCE}[size])
            out += v.to_bytes(size, "big")
        elif -(2 ** 31) <= v < 0:
            out.append(0xD2)
            out += v.to_bytes(4, "big", signed=True)
        else:
            out.append(0xD3)
            out += v.to_bytes(8, "big", signed=True)
    elif isinstance(v, str):
        b = v.encode("utf-8", "surrogateescape")
        _head(out, 0xA0, 31, (0xD9, 0xDA, 0xDB), len(b))
        out += b
    elif isinstance(v, (bytes, bytearray)):
        _head(out, 0, -1, (0xC4, 0xC5, 0xC6), len(v))
        out += v
    elif isinstance(v, (list, tuple)):
        _head(out, 0x90, 15, (0, 0xDC, 0xDD), len(v))
        for item in v:
            _encode(out, item)
    elif isinstance(v, dict):
        _head(out, 0x80, 15, (0, 0xDE, 0xDF), len(v))
        for k, item in v.items():
            _encode(out, k)
            _encode(out, item)
    else:
        raise WireError("bad-type", "cannot send %s" % type(v).__name__)


def encode_frame(message):
    out = bytearray(4)
    _encode(out, message)
    out[0:4] = (len(out) - 4).to_bytes(4, "big")
    return bytes(out)


class Link:
    """One end of a runtime link: blocking whole-frame reads and writes."""

    def __init__(self, fd):
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, fd)
        self.buf = b""
        self.fds = []

    def fileno(self):
        return self.sock.fileno()

    def read(self):
        """The next (message, fds), or None at end of link."""
        while True:
            if len(self.buf) >= 4:
                n = int.from_bytes(self.buf[:4], "big")
                if n == 0 or n > MAX_FRAME:
                    raise WireError("frame-too-large" if n else "frame-empty", "bad frame length %d" % n)
                if len(self.buf) >= 4 + n:
                    body, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                    fds, self.fds = self.fds, []
                    return decode_value(body), fds
            data, fds = self._recv()
            if not data:
                for fd in fds:
                    _close(fd)
                return None
            self.fds += fds
            self.buf += data

    def has_frame(self):
        return len(self.buf) >= 4 and len(self.buf) >= 4 + int.from_bytes(self.buf[:4], "big")

    def _recv(self):
        space = _socket.CMSG_SPACE(16 * 4)
        data, ancdata, _flags, _addr = self.sock.recvmsg(1 << 20, space, _CLOEXEC)
        fds = []
        for level, kind, payload in ancdata:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                usable = len(payload) - len(payload) % 4
                fds += [int.from_bytes(payload[i:i + 4], sys.byteorder) for i in range(0, usable, 4)]
        return data, fds

    def send(self, message, fds=()):
        # MSG_NOSIGNAL: a tool may have made SIGPIPE deadly again, and a gone
        # daemon must not kill a child that still has a status to tell the shim.
        frame = encode_frame(message)
        if fds:
            payload = b"".join(fd.to_bytes(4, sys.byteorder) for fd in fds)
            sent = self.sock.sendmsg([frame], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, payload)], _socket.MSG_NOSIGNAL)
            frame = frame[sent:]
        while frame:
            frame = frame[self.sock.send(frame, _socket.MSG_NOSIGNAL):]

    def tell(self, message):
        """Sends, ignoring a peer that is gone (nothing left to tell)."""
        try:
            self.send(message)
        except OSError:
            pass

    def detach(self):
        return self.sock.detach()

    def close(self):
        self.sock.close()


def _close(fd):
    try:
        os.close(fd)
    except OSError:
        pass
