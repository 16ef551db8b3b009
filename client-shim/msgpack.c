#include "msgpack.h"

#include <string.h>

const char *wire_err_name(int err)
{
	switch (err) {
	case WIRE_OK: return "ok";
	case WIRE_TRUNCATED: return "truncated";
	case WIRE_BAD_TYPE: return "bad-type";
	case WIRE_TOO_DEEP: return "too-deep";
	case WIRE_TRAILING: return "trailing-bytes";
	case WIRE_NOT_A_MAP: return "not-a-map";
	case WIRE_FRAME_EMPTY: return "frame-empty";
	case WIRE_FRAME_TOO_LARGE: return "frame-too-large";
	case WIRE_BAD_FDS: return "bad-fds";
	case WIRE_BAD_MESSAGE: return "bad-message";
	case WIRE_EOF: return "eof";
	case WIRE_IO: return "io";
	}
	return "unknown";
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	while (n--)
		v = v << 8 | *p++;
	return v;
}

static uint8_t *put_be(uint8_t *p, uint64_t v, int n)
{
	int i;
	for (i = n - 1; i >= 0; i--)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return p + n;
}

int mp_next(const uint8_t **pp, const uint8_t *end, struct mp_obj *o)
{
	const uint8_t *p = *pp;
	uint8_t b;
	int w = 0;          /* width of the following length or value field */
	enum mp_kind kind;  /* for the length-prefixed forms */
	uint64_t u;

	if (p >= end)
		return WIRE_TRUNCATED;
	b = *p++;
	o->i = 0;
	o->data = NULL;
	o->len = 0;

	if (b <= 0x7f || b >= 0xe0) {
		o->kind = MP_INT;
		o->i = (int8_t)b;
		goto done;
	}
	if (b <= 0x8f || (b >= 0x90 && b <= 0x9f)) {
		o->kind = b <= 0x8f ? MP_MAP : MP_ARRAY;
		o->len = b & 0x0f;
		goto done;
	}
	if (b <= 0xbf) {
		kind = MP_STR;
		u = b & 0x1f;
		goto bytes;
	}
	switch (b) {
	case 0xc0: o->kind = MP_NIL; goto done;
	case 0xc2: case 0xc3: o->kind = MP_BOOL; o->i = b & 1; goto done;
	case 0xc4: case 0xc5: case 0xc6: kind = MP_BIN; w = 1 << (b - 0xc4); break;
	case 0xd9: case 0xda: case 0xdb: kind = MP_STR; w = 1 << (b - 0xd9); break;
	case 0xdc: case 0xdd: kind = MP_ARRAY; w = b == 0xdc ? 2 : 4; break;
	case 0xde: case 0xdf: kind = MP_MAP; w = b == 0xde ? 2 : 4; break;
	case 0xcc: case 0xcd: case 0xce: case 0xcf:
		w = 1 << (b - 0xcc);
		if (end - p < w)
			return WIRE_TRUNCATED;
		u = get_be(p, w);
		p += w;
		if (u > (uint64_t)MP_INT_LIMIT)
			return WIRE_BAD_TYPE;
		o->kind = MP_INT;
		o->i = (int64_t)u;
		goto done;
	case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		w = 1 << (b - 0xd0);
		if (end - p < w)
			return WIRE_TRUNCATED;
		u = get_be(p, w);
		p += w;
		/* sign-extend the w-byte two's complement value */
		if (w < 8 && (u >> (8 * w - 1)))
			u |= ~(uint64_t)0 << (8 * w);
		o->kind = MP_INT;
		o->i = (int64_t)u;
		if (o->i > MP_INT_LIMIT || o->i < -MP_INT_LIMIT)
			return WIRE_BAD_TYPE;
		goto done;
	default:
		/* 0xc1 (never used), ext 0xc7-0xc9 / 0xd4-0xd8, float 0xca-0xcb */
		return WIRE_BAD_TYPE;
	}

	if (end - p < w)
		return WIRE_TRUNCATED;
	u = get_be(p, w);
	p += w;
	if (kind == MP_ARRAY || kind == MP_MAP) {
		o->kind = kind;
		o->len = (uint32_t)u;
		goto done;
	}
bytes:
	if ((uint64_t)(end - p) < u)
		return WIRE_TRUNCATED;
	o->kind = kind;
	o->data = p;
	o->len = (uint32_t)u;
	p += u;
done:
	*pp = p;
	return WIRE_OK;
}

int mp_skip(const uint8_t **p, const uint8_t *end, int depth)
{
	struct mp_obj o, k;
	uint32_t i;
	int err;

	if ((err = mp_next(p, end, &o)))
		return err;
	if (o.kind != MP_ARRAY && o.kind != MP_MAP)
		return WIRE_OK;
	if (depth >= MP_MAX_DEPTH)
		return WIRE_TOO_DEEP;
	/* Every element takes at least one byte, so a huge count on a short
	 * buffer ends in WIRE_TRUNCATED quickly. */
	for (i = 0; i < o.len; i++) {
		if (o.kind == MP_MAP) {
			if ((err = mp_next(p, end, &k)))
				return err;
			if (k.kind != MP_STR)
				return WIRE_BAD_TYPE;
		}
		if ((err = mp_skip(p, end, depth + 1)))
			return err;
	}
	return WIRE_OK;
}

int mp_check(const uint8_t *p, size_t n)
{
	const uint8_t *q = p, *end = p + n;
	int err = mp_skip(&q, end, 0);

	if (err)
		return err;
	if (q != end)
		return WIRE_TRAILING;
	/* mp_skip succeeded, so the first byte is a valid head */
	if (!((*p >= 0x80 && *p <= 0x8f) || *p == 0xde || *p == 0xdf))
		return WIRE_NOT_A_MAP;
	return WIRE_OK;
}

size_t mp_size_int(int64_t v)
{
	if (v >= 0) {
		if (v < 128) return 1;
		if (v < 256) return 2;
		if (v < 65536) return 3;
		if (v <= 0xffffffffLL) return 5;
		return 9;
	}
	if (v >= -32) return 1;
	if (v >= -128) return 2;
	if (v >= -32768) return 3;
	if (v >= -2147483647LL - 1) return 5;
	return 9;
}

size_t mp_size_str(size_t n)
{
	return n + (n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5);
}

size_t mp_size_bin(size_t n)
{
	return n + (n < 256 ? 2 : n < 65536 ? 3 : 5);
}

size_t mp_size_array(size_t n)
{
	return n < 16 ? 1 : n < 65536 ? 3 : 5;
}

size_t mp_size_map(size_t n)
{
	return mp_size_array(n);
}

uint8_t *mp_put_nil(uint8_t *p)
{
	*p++ = 0xc0;
	return p;
}

uint8_t *mp_put_bool(uint8_t *p, int b)
{
	*p++ = b ? 0xc3 : 0xc2;
	return p;
}

uint8_t *mp_put_int(uint8_t *p, int64_t v)
{
	if (v >= 0) {
		if (v < 128) {
			*p++ = (uint8_t)v;
			return p;
		}
		if (v < 256) { *p++ = 0xcc; return put_be(p, (uint64_t)v, 1); }
		if (v < 65536) { *p++ = 0xcd; return put_be(p, (uint64_t)v, 2); }
		if (v <= 0xffffffffLL) { *p++ = 0xce; return put_be(p, (uint64_t)v, 4); }
		*p++ = 0xcf;
		return put_be(p, (uint64_t)v, 8);
	}
	if (v >= -32) {
		*p++ = (uint8_t)(v & 0xff);
		return p;
	}
	if (v >= -128) { *p++ = 0xd0; return put_be(p, (uint64_t)v, 1); }
	if (v >= -32768) { *p++ = 0xd1; return put_be(p, (uint64_t)v, 2); }
	if (v >= -2147483647LL - 1) { *p++ = 0xd2; return put_be(p, (uint64_t)v, 4); }
	*p++ = 0xd3;
	return put_be(p, (uint64_t)v, 8);
}

static uint8_t *put_bytes(uint8_t *p, const void *s, size_t n)
{
	if (n)
		memcpy(p, s, n);
	return p + n;
}

/* The 8-, 16- and 32-bit length forms; their type bytes are consecutive
 * (str8 str16 str32, bin8 bin16 bin32). */
static uint8_t *put_len(uint8_t *p, size_t n, uint8_t code8)
{
	if (n < 256) {
		*p++ = code8;
		return put_be(p, n, 1);
	}
	if (n < 65536) {
		*p++ = (uint8_t)(code8 + 1);
		return put_be(p, n, 2);
	}
	*p++ = (uint8_t)(code8 + 2);
	return put_be(p, n, 4);
}

uint8_t *mp_put_str(uint8_t *p, const void *s, size_t n)
{
	if (n < 32)
		*p++ = (uint8_t)(0xa0 | n);
	else
		p = put_len(p, n, 0xd9);
	return put_bytes(p, s, n);
}

uint8_t *mp_put_bin(uint8_t *p, const void *s, size_t n)
{
	return put_bytes(put_len(p, n, 0xc4), s, n);
}

static uint8_t *put_container(uint8_t *p, size_t n, uint8_t fix, uint8_t b16)
{
	if (n < 16) {
		*p++ = (uint8_t)(fix | n);
		return p;
	}
	if (n < 65536) {
		*p++ = b16;
		return put_be(p, n, 2);
	}
	*p++ = (uint8_t)(b16 + 1);
	return put_be(p, n, 4);
}

uint8_t *mp_put_array(uint8_t *p, size_t n)
{
	return put_container(p, n, 0x90, 0xdc);
}

uint8_t *mp_put_map(uint8_t *p, size_t n)
{
	return put_container(p, n, 0x80, 0xde);
}

uint8_t *mp_put_cstr(uint8_t *p, const char *s)
{
	return mp_put_str(p, s, strlen(s));
}
