/* Reading a run request's argv, env, cwd and umask as spans into the payload (run_view.h). */
#include "run_view.h"

#include "../../client-shim/msgpack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int key_is(const struct mp_obj *k, const char *name)
{
	size_t n = strlen(name);

	return k->len == n && memcmp(k->data, name, n) == 0;
}

/* An array of bin at *p into a malloc'd span list. */
static int bin_list(const uint8_t **p, const uint8_t *end, struct span **out, uint32_t *count)
{
	struct mp_obj o;
	uint32_t i;
	int err = mp_next(p, end, &o);

	if (err != 0)
		return err;
	if (o.kind != MP_ARRAY)
		return WIRE_BAD_MESSAGE;
	*out = calloc(o.len ? o.len : 1, sizeof(**out));
	if (!*out) {
		errno = ENOMEM;
		return WIRE_IO;
	}
	*count = o.len;
	for (i = 0; i < o.len; i++) {
		struct mp_obj item;

		err = mp_next(p, end, &item);
		if (err == 0 && item.kind != MP_BIN)
			err = WIRE_BAD_MESSAGE;
		if (err != 0) {
			free(*out);
			*out = NULL;
			return err;
		}
		(*out)[i].data = item.data;
		(*out)[i].len = item.len;
	}
	return WIRE_OK;
}

int run_view_parse(const uint8_t *p, size_t n, struct run_view *v, const char **bad)
{
	const uint8_t *end = p + n;
	struct mp_obj map, key, val;
	int err, have_cwd = 0, have_umask = 0;
	uint32_t i;

	memset(v, 0, sizeof(*v));
	*bad = NULL;
	err = mp_check(p, n);
	if (err != WIRE_OK)
		return err;
	mp_next(&p, end, &map); /* checked: a map */
	for (i = 0; i < map.len && err == WIRE_OK; i++) {
		mp_next(&p, end, &key); /* checked: str keys */
		if (key_is(&key, "argv")) {
			*bad = "argv";
			err = v->argv ? WIRE_BAD_MESSAGE : bin_list(&p, end, &v->argv, &v->argc);
		} else if (key_is(&key, "env")) {
			*bad = "env";
			err = v->env ? WIRE_BAD_MESSAGE : bin_list(&p, end, &v->env, &v->envc);
		} else if (key_is(&key, "cwd") || key_is(&key, "umask")) {
			int cwd = key_is(&key, "cwd");

			*bad = cwd ? "cwd" : "umask";
			err = mp_next(&p, end, &val);
			if (err == WIRE_OK && cwd && val.kind == MP_BIN && val.len > 0 && val.data[0] == '/') {
				v->cwd.data = val.data;
				v->cwd.len = val.len;
				have_cwd = 1;
			} else if (err == WIRE_OK && !cwd && val.kind == MP_INT && val.i >= 0 && val.i <= 0777) {
				v->umask = (int)val.i;
				have_umask = 1;
			} else if (err == WIRE_OK) {
				err = WIRE_BAD_MESSAGE;
			}
		} else {
			err = mp_skip(&p, end, 1);
		}
	}
	if (err == WIRE_OK) {
		*bad = !v->argv || v->argc == 0 ? "argv" : !v->env ? "env" : !have_cwd ? "cwd" : !have_umask ? "umask" : NULL;
		if (*bad)
			err = WIRE_BAD_MESSAGE;
	}
	if (err != WIRE_OK)
		run_view_free(v);
	else
		*bad = NULL;
	return err;
}

void run_view_free(struct run_view *v)
{
	free(v->argv);
	free(v->env);
	v->argv = v->env = NULL;
	v->argc = v->envc = 0;
}
