/* The minimal msgpack codec of wire protocol v1 (protocol-spec/README.md).
 * The encoder writes minimal forms into a buffer the caller sized with the
 * mp_size_* functions; the decoder reads every form and rejects what the
 * spec rejects, with the spec's error codes. Decoding never allocates: a
 * payload is checked once with mp_check, then walked with mp_next/mp_skip. */
#ifndef WARM_MSGPACK_H
#define WARM_MSGPACK_H

#include <stddef.h>
#include <stdint.h>

#define MP_MAX_DEPTH 8
/* Integers must be JavaScript-safe: |n| <= 2^53 - 1. */
#define MP_INT_LIMIT 9007199254740991LL

/* Error codes of the spec, plus the reader's own EOF and I/O outcomes. */
enum wire_err {
	WIRE_OK = 0,
	WIRE_TRUNCATED,
	WIRE_BAD_TYPE,
	WIRE_TOO_DEEP,
	WIRE_TRAILING,
	WIRE_NOT_A_MAP,
	WIRE_FRAME_EMPTY,
	WIRE_FRAME_TOO_LARGE,
	WIRE_BAD_FDS,
	WIRE_BAD_MESSAGE,
	WIRE_EOF, /* the link closed on a frame boundary */
	WIRE_IO   /* a read failed; see errno */
};

/* The spec's name of an error ("bad-type", ...). */
const char *wire_err_name(int err);

enum mp_kind { MP_NIL, MP_BOOL, MP_INT, MP_STR, MP_BIN, MP_ARRAY, MP_MAP };

struct mp_obj {
	enum mp_kind kind;
	int64_t i;           /* MP_INT value, MP_BOOL 0/1 */
	const uint8_t *data; /* MP_STR / MP_BIN bytes */
	uint32_t len;        /* byte length, or element / pair count */
};

/* Reads one item at *p: a whole scalar, str or bin, or only the header of
 * an array or map. Advances *p past what it read. */
int mp_next(const uint8_t **p, const uint8_t *end, struct mp_obj *o);

/* Skips one complete value, checking types, str keys and depth; depth is
 * the number of containers the value sits in. */
int mp_skip(const uint8_t **p, const uint8_t *end, int depth);

/* Checks a frame payload: exactly one value, a map, valid throughout. */
int mp_check(const uint8_t *p, size_t n);

/* Encoded sizes, to size a buffer before writing. */
size_t mp_size_int(int64_t v);
size_t mp_size_str(size_t n);
size_t mp_size_bin(size_t n);
size_t mp_size_array(size_t n);
size_t mp_size_map(size_t n);

/* Writers: each writes at p and returns the byte after what it wrote. */
uint8_t *mp_put_nil(uint8_t *p);
uint8_t *mp_put_bool(uint8_t *p, int b);
uint8_t *mp_put_int(uint8_t *p, int64_t v);
uint8_t *mp_put_str(uint8_t *p, const void *s, size_t n);
uint8_t *mp_put_bin(uint8_t *p, const void *s, size_t n);
uint8_t *mp_put_array(uint8_t *p, size_t n);
uint8_t *mp_put_map(uint8_t *p, size_t n);
/* A str from a NUL-terminated C string (keys and short values). */
uint8_t *mp_put_cstr(uint8_t *p, const char *s);

#endif
