#include "reply.h"
#include "msgpack.h"

#include <limits.h>
#include <string.h>

/* Fields seen while walking the map; the last occurrence of a key wins. */
struct fields {
	struct mp_obj t, pid, pgid, code, signal, why, text, json, reset;
	int have_t, have_pid, have_pgid, have_code, have_signal, have_reset;
	int have_why, have_text, have_json;
};

static int key_is(const struct mp_obj *k, const char *name)
{
	size_t n = strlen(name);

	return k->len == n && memcmp(k->data, name, n) == 0;
}

static int str_of(const struct mp_obj *o, struct str_ref *out)
{
	if (o->kind != MP_STR || o->len > INT_MAX)
		return -1;
	out->s = (const char *)o->data;
	out->len = (int)o->len;
	return 0;
}

static int bad(struct reply *r, const char *why)
{
	r->bad = why;
	return WIRE_BAD_MESSAGE;
}

int reply_parse(const uint8_t *p, size_t n, struct reply *r)
{
	const uint8_t *end = p + n, *v;
	struct mp_obj m, k, o;
	struct fields f;
	struct str_ref t;
	uint32_t i;

	memset(r, 0, sizeof(*r));
	memset(&f, 0, sizeof(f));
	if (mp_next(&p, end, &m) || m.kind != MP_MAP)
		return bad(r, "not a map");
	for (i = 0; i < m.len; i++) {
		if (mp_next(&p, end, &k) || k.kind != MP_STR)
			return bad(r, "bad key");
		v = p;
		if (mp_skip(&p, end, 1) || mp_next(&v, p, &o))
			return bad(r, "bad value");
		/* o is the value, or only its header for a container */
		if (key_is(&k, "t")) { f.t = o; f.have_t = 1; }
		else if (key_is(&k, "pid")) { f.pid = o; f.have_pid = 1; }
		else if (key_is(&k, "pgid")) { f.pgid = o; f.have_pgid = 1; }
		else if (key_is(&k, "code")) { f.code = o; f.have_code = 1; }
		else if (key_is(&k, "signal")) { f.signal = o; f.have_signal = 1; }
		else if (key_is(&k, "why")) { f.why = o; f.have_why = 1; }
		else if (key_is(&k, "text")) { f.text = o; f.have_text = 1; }
		else if (key_is(&k, "json")) { f.json = o; f.have_json = 1; }
		else if (key_is(&k, "reset_stdio")) { f.reset = o; f.have_reset = 1; }
	}
	if (!f.have_t || str_of(&f.t, &t))
		return bad(r, "no t");

#define T_IS(name) (t.len == (int)sizeof(name) - 1 && memcmp(t.s, name, sizeof(name) - 1) == 0)
	if (T_IS("direct")) {
		r->type = REPLY_DIRECT;
		if (!f.have_why || str_of(&f.why, &r->why))
			return bad(r, "direct without why");
	} else if (T_IS("started")) {
		r->type = REPLY_STARTED;
		/* pid and pgid become kill() targets: 0, 1 or negative would
		 * signal far more than the tool. */
		if (!f.have_pid || f.pid.kind != MP_INT || f.pid.i <= 1 || f.pid.i > INT_MAX)
			return bad(r, "started with a bad pid");
		if (!f.have_pgid || f.pgid.kind != MP_INT || f.pgid.i <= 1 || f.pgid.i > INT_MAX)
			return bad(r, "started with a bad pgid");
		r->pid = (int)f.pid.i;
		r->pgid = (int)f.pgid.i;
		r->reset_stdio = f.have_reset && f.reset.kind == MP_BOOL && f.reset.i;
	} else if (T_IS("exit")) {
		r->type = REPLY_EXIT;
		if (f.have_signal) {
			if (f.signal.kind != MP_INT || f.signal.i < 1 || f.signal.i > 127)
				return bad(r, "exit with a bad signal");
			r->has_signal = 1;
			r->signal = (int)f.signal.i;
		} else if (f.have_code) {
			if (f.code.kind != MP_INT || f.code.i < INT_MIN || f.code.i > INT_MAX)
				return bad(r, "exit with a bad code");
			r->code = (int)f.code.i;
		} else {
			return bad(r, "exit without code or signal");
		}
	} else if (T_IS("error")) {
		r->type = REPLY_ERROR;
		if (!f.have_code || str_of(&f.code, &r->code_name))
			return bad(r, "error without code");
		if (!f.have_why || str_of(&f.why, &r->why))
			return bad(r, "error without why");
	} else if (T_IS("status")) {
		r->type = REPLY_STATUS;
		if (!f.have_text || str_of(&f.text, &r->text))
			return bad(r, "status without text");
		if (!f.have_json || str_of(&f.json, &r->json))
			return bad(r, "status without json");
	} else if (T_IS("ok")) {
		r->type = REPLY_OK;
	} else {
		return bad(r, "unknown t");
	}
#undef T_IS
	return WIRE_OK;
}
