/* Checks the C codec against protocol-spec/vectors.txt: every `vector`
 * frame, read through the real frame reader, renders exactly as its
 * `value` line, and re-encoded by our encoder renders the same again;
 * every `reject` frame fails with exactly its `error` code.
 * Usage: test-vectors <vectors.txt>. Prints "ok <name>" or
 * "FAIL <name>: <why>" per block; exits 1 if any failed. */
#include "frame.h"
#include "msgpack.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct sbuf {
	char *s;
	size_t len, cap;
};

static void die(const char *msg)
{
	fprintf(stderr, "test-vectors: %s\n", msg);
	exit(2);
}

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		if (!b->s)
			die("out of memory");
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	sb_add(b, tmp, (size_t)n);
}

static void sb_reset(struct sbuf *b)
{
	b->len = 0;
	sb_add(b, "", 0);
}

/* The spec's canonical rendering of one (already checked) value. */
static void render(const uint8_t **p, const uint8_t *end, struct sbuf *out)
{
	struct mp_obj o;
	uint32_t i, j;

	if (mp_next(p, end, &o))
		die("render: undecodable value after mp_check");
	switch (o.kind) {
	case MP_NIL: sb_add(out, "nil", 3); break;
	case MP_BOOL: o.i ? sb_add(out, "true", 4) : sb_add(out, "false", 5); break;
	case MP_INT: sb_printf(out, "%lld", (long long)o.i); break;
	case MP_BIN:
		sb_add(out, "b", 1);
		/* fall through */
	case MP_STR:
		sb_add(out, "\"", 1);
		for (j = 0; j < o.len; j++) {
			uint8_t c = o.data[j];

			if (c == '"' || c == '\\') {
				sb_add(out, "\\", 1);
				sb_add(out, (const char *)&c, 1);
			} else if (c >= 0x20 && c <= 0x7e) {
				sb_add(out, (const char *)&c, 1);
			} else {
				sb_printf(out, "\\x%02x", c);
			}
		}
		sb_add(out, "\"", 1);
		break;
	case MP_ARRAY:
		sb_add(out, "[", 1);
		for (i = 0; i < o.len; i++) {
			if (i)
				sb_add(out, ", ", 2);
			render(p, end, out);
		}
		sb_add(out, "]", 1);
		break;
	case MP_MAP:
		sb_add(out, "{", 1);
		for (i = 0; i < o.len; i++) {
			if (i)
				sb_add(out, ", ", 2);
			render(p, end, out);
			sb_add(out, ": ", 2);
			render(p, end, out);
		}
		sb_add(out, "}", 1);
		break;
	}
}

/* Re-encodes one (already checked) value with our encoder. */
static uint8_t *transcode(const uint8_t **p, const uint8_t *end, uint8_t *w)
{
	struct mp_obj o;
	uint32_t i;

	if (mp_next(p, end, &o))
		die("transcode: undecodable value after mp_check");
	switch (o.kind) {
	case MP_NIL: return mp_put_nil(w);
	case MP_BOOL: return mp_put_bool(w, (int)o.i);
	case MP_INT: return mp_put_int(w, o.i);
	case MP_STR: return mp_put_str(w, o.data, o.len);
	case MP_BIN: return mp_put_bin(w, o.data, o.len);
	case MP_ARRAY:
		w = mp_put_array(w, o.len);
		for (i = 0; i < o.len; i++)
			w = transcode(p, end, w);
		return w;
	case MP_MAP:
		w = mp_put_map(w, o.len);
		for (i = 0; i < o.len * 2; i++)
			w = transcode(p, end, w);
		return w;
	}
	return w;
}

/* Feeds bytes through a socketpair (a child writes them, then closes) and
 * reads one frame with the shim's frame reader. On WIRE_OK the payload is
 * copied to *copy. */
static int read_via_socket(const uint8_t *bytes, size_t n, uint8_t **copy, size_t *len)
{
	struct frame_reader rd;
	const uint8_t *payload;
	int sv[2], err, status;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair failed");
	pid = fork();
	if (pid < 0)
		die("fork failed");
	if (pid == 0) {
		close(sv[0]);
		/* may fail with EPIPE once the reader rejected the frame early */
		frame_send(sv[1], bytes, n, NULL, 0);
		_exit(0);
	}
	close(sv[1]);
	frame_reader_init(&rd, sv[0]);
	err = frame_read(&rd, &payload, len);
	if (err == WIRE_OK) {
		*copy = malloc(*len);
		if (!*copy)
			die("out of memory");
		memcpy(*copy, payload, *len);
	}
	frame_reader_free(&rd);
	close(sv[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return err;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

struct block {
	int reject;
	char name[256];
	uint8_t *frame;
	size_t frame_len, frame_cap;
	char *expect; /* value or error line */
};

static int fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return 1;
}

static int check(struct block *b)
{
	struct sbuf got = { 0 }, again = { 0 };
	uint8_t *payload = NULL, *re = NULL, *payload2 = NULL;
	const uint8_t *p;
	size_t len, len2;
	int err, bad = 0;

	if (!b->expect)
		return fail(b->name, "no %s line", b->reject ? "error" : "value");
	err = read_via_socket(b->frame, b->frame_len, &payload, &len);
	if (b->reject) {
		if (err == WIRE_OK)
			bad = fail(b->name, "decoded, expected %s", b->expect);
		else if (strcmp(wire_err_name(err), b->expect) != 0)
			bad = fail(b->name, "got %s, expected %s", wire_err_name(err), b->expect);
		goto out;
	}
	if (err != WIRE_OK) {
		bad = fail(b->name, "decode failed: %s", wire_err_name(err));
		goto out;
	}
	sb_reset(&got);
	p = payload;
	render(&p, payload + len, &got);
	if (strcmp(got.s, b->expect) != 0) {
		bad = fail(b->name, "rendered %s", got.s);
		goto out;
	}
	/* Minimal forms never take more room than the original ones. */
	re = malloc(4 + len);
	if (!re)
		die("out of memory");
	p = payload;
	len2 = (size_t)(transcode(&p, payload + len, re + 4) - (re + 4));
	frame_put_len(re, (uint32_t)len2);
	err = read_via_socket(re, 4 + len2, &payload2, &len2);
	if (err != WIRE_OK) {
		bad = fail(b->name, "re-encoded frame does not decode: %s", wire_err_name(err));
		goto out;
	}
	sb_reset(&again);
	p = payload2;
	render(&p, payload2 + len2, &again);
	if (strcmp(again.s, b->expect) != 0) {
		bad = fail(b->name, "re-encoded value rendered %s", again.s);
		goto out;
	}
	printf("ok %s\n", b->name);
out:
	if (!bad && b->reject)
		printf("ok %s\n", b->name);
	free(payload);
	free(payload2);
	free(re);
	free(got.s);
	free(again.s);
	return bad;
}

int main(int argc, char **argv)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	struct block b;
	int in_block = 0, failures = 0, count = 0, lineno = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: test-vectors <vectors.txt>\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		fprintf(stderr, "test-vectors: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	memset(&b, 0, sizeof(b));
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if (!in_block) {
			int rej = strncmp(line, "reject ", 7) == 0;

			if (!rej && strncmp(line, "vector ", 7) != 0) {
				fprintf(stderr, "test-vectors: line %d: expected vector or reject\n", lineno);
				return 2;
			}
			memset(&b, 0, sizeof(b));
			b.reject = rej;
			snprintf(b.name, sizeof(b.name), "%s", line + 7);
			in_block = 1;
		} else if (strncmp(line, "frame ", 6) == 0) {
			const char *h = line + 6;
			size_t hl = strlen(h), i;

			if (hl % 2) {
				fprintf(stderr, "test-vectors: line %d: odd hex length\n", lineno);
				return 2;
			}
			if (b.frame_len + hl / 2 > b.frame_cap) {
				b.frame_cap = (b.frame_len + hl / 2) * 2;
				b.frame = realloc(b.frame, b.frame_cap);
				if (!b.frame)
					die("out of memory");
			}
			for (i = 0; i < hl; i += 2) {
				int hi = hexval(h[i]), lo = hexval(h[i + 1]);

				if (hi < 0 || lo < 0) {
					fprintf(stderr, "test-vectors: line %d: bad hex\n", lineno);
					return 2;
				}
				b.frame[b.frame_len++] = (uint8_t)(hi << 4 | lo);
			}
		} else if (!b.reject && strncmp(line, "value ", 6) == 0) {
			free(b.expect);
			b.expect = strdup(line + 6);
		} else if (b.reject && strncmp(line, "error ", 6) == 0) {
			free(b.expect);
			b.expect = strdup(line + 6);
		} else if (strcmp(line, "end") == 0) {
			failures += check(&b);
			count++;
			free(b.frame);
			free(b.expect);
			in_block = 0;
		} else {
			fprintf(stderr, "test-vectors: line %d: unexpected line\n", lineno);
			return 2;
		}
	}
	free(line);
	fclose(f);
	if (in_block) {
		fprintf(stderr, "test-vectors: unterminated block %s\n", b.name);
		return 2;
	}
	if (count == 0) {
		fprintf(stderr, "test-vectors: no vectors in %s\n", argv[1]);
		return 2;
	}
	return failures ? 1 : 0;
}
