#include "request.h"
#include "frame.h"
#include "msgpack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Adds n to *total unless that passes the frame limit. */
static int add(size_t *total, size_t n)
{
	if (n > FRAME_MAX || *total > FRAME_MAX - n)
		return -1;
	*total += n;
	return 0;
}

uint8_t *request_run(const struct run_request *rq, size_t *len)
{
	size_t size = 0, envc = 0, i;
	uint8_t *buf, *p;

	/* Keys and fixed parts: map of 10 entries. */
	size = mp_size_map(10)
		+ mp_size_str(1) + mp_size_str(3)              /* t: run */
		+ mp_size_str(1) + mp_size_int(PROTOCOL_VERSION)
		+ mp_size_str(4) + mp_size_str(strlen(rq->warm))
		+ mp_size_str(4) + mp_size_array(rq->argc)
		+ mp_size_str(3) + mp_size_bin(strlen(rq->exe))
		+ mp_size_str(3)                                /* env header below */
		+ mp_size_str(3) + mp_size_bin(strlen(rq->cwd))
		+ mp_size_str(5) + mp_size_int(rq->umask)
		+ mp_size_str(3) + mp_size_array(rq->nids)
		+ mp_size_str(7) + mp_size_array(2 * NRLIMITS);
	for (i = 0; i < rq->nids; i++)
		size += mp_size_int(rq->ids[i]);
	for (i = 0; i < 2 * NRLIMITS; i++)
		size += mp_size_int(rq->rlimits[i]);
	for (i = 0; i < rq->argc; i++)
		if (add(&size, mp_size_bin(strlen(rq->argv[i]))))
			goto too_large;
	for (envc = 0; rq->env[envc]; envc++)
		if (add(&size, mp_size_bin(strlen(rq->env[envc]))))
			goto too_large;
	if (add(&size, mp_size_array(envc)))
		goto too_large;

	buf = malloc(4 + size);
	if (!buf)
		return NULL;
	frame_put_len(buf, (uint32_t)size);
	p = buf + 4;
	p = mp_put_map(p, 10);
	p = mp_put_cstr(p, "t");
	p = mp_put_cstr(p, "run");
	p = mp_put_cstr(p, "v");
	p = mp_put_int(p, PROTOCOL_VERSION);
	p = mp_put_cstr(p, "warm");
	p = mp_put_cstr(p, rq->warm);
	p = mp_put_cstr(p, "argv");
	p = mp_put_array(p, rq->argc);
	for (i = 0; i < rq->argc; i++)
		p = mp_put_bin(p, rq->argv[i], strlen(rq->argv[i]));
	p = mp_put_cstr(p, "exe");
	p = mp_put_bin(p, rq->exe, strlen(rq->exe));
	p = mp_put_cstr(p, "env");
	p = mp_put_array(p, envc);
	for (i = 0; i < envc; i++)
		p = mp_put_bin(p, rq->env[i], strlen(rq->env[i]));
	p = mp_put_cstr(p, "cwd");
	p = mp_put_bin(p, rq->cwd, strlen(rq->cwd));
	p = mp_put_cstr(p, "umask");
	p = mp_put_int(p, rq->umask);
	p = mp_put_cstr(p, "ids");
	p = mp_put_array(p, rq->nids);
	for (i = 0; i < rq->nids; i++)
		p = mp_put_int(p, rq->ids[i]);
	p = mp_put_cstr(p, "rlimits");
	p = mp_put_array(p, 2 * NRLIMITS);
	for (i = 0; i < 2 * NRLIMITS; i++)
		p = mp_put_int(p, rq->rlimits[i]);
	*len = (size_t)(p - buf);
	return buf;

too_large:
	errno = E2BIG;
	return NULL;
}

size_t request_simple(uint8_t *buf, const char *t, int now)
{
	uint8_t *p = buf + 4;

	p = mp_put_map(p, now ? 3 : 2);
	p = mp_put_cstr(p, "t");
	p = mp_put_cstr(p, t);
	p = mp_put_cstr(p, "v");
	p = mp_put_int(p, PROTOCOL_VERSION);
	if (now) {
		p = mp_put_cstr(p, "now");
		p = mp_put_bool(p, 1);
	}
	frame_put_len(buf, (uint32_t)(p - buf - 4));
	return (size_t)(p - buf);
}
