/* Decoding of the daemon's replies on the client link into a struct. */
#ifndef WARM_REPLY_H
#define WARM_REPLY_H

#include <stddef.h>
#include <stdint.h>

enum reply_type {
	REPLY_DIRECT,
	REPLY_STARTED,
	REPLY_EXIT,
	REPLY_ERROR,
	REPLY_STATUS,
	REPLY_OK
};

struct str_ref {
	const char *s; /* not NUL-terminated; points into the frame */
	int len;
};

struct reply {
	enum reply_type type;
	int pid, pgid;       /* started */
	int reset_stdio;     /* started: restore fds 0-2 state when it ends */
	int has_signal;      /* exit: signal (1) or code (0) */
	int code, signal;    /* exit */
	struct str_ref why;  /* direct, error */
	struct str_ref code_name; /* error */
	struct str_ref text, json; /* status */
	const char *bad;     /* why a frame was bad-message, for the trace */
};

/* Parses a payload already checked by mp_check. Returns WIRE_OK or
 * WIRE_BAD_MESSAGE (r->bad says why). */
int reply_parse(const uint8_t *p, size_t n, struct reply *r);

#endif
