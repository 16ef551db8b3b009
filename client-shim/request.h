/* Encoding of the shim's requests on the client link. */
#ifndef WARM_REQUEST_H
#define WARM_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROTOCOL_VERSION 1

struct run_request {
	const char *warm;   /* the shim's version */
	char *const *argv;  /* argc entries */
	size_t argc;
	const char *exe;    /* absolute */
	char *const *env;   /* NULL-terminated, as environ */
	const char *cwd;
	mode_t umask;
	const int64_t *ids;     /* gid, then the supplementary groups */
	size_t nids;
	const int64_t *rlimits; /* soft, hard per RLIMITS entry; -1 = unlimited */
};

/* The resource limits a run request carries, in this order (protocol-spec). */
#define RLIMITS { RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_DATA, RLIMIT_STACK, RLIMIT_CORE, \
		  RLIMIT_NOFILE, RLIMIT_AS, RLIMIT_NPROC, RLIMIT_MEMLOCK }
#define NRLIMITS 9

/* Builds a whole `run` frame (length prefix included) in one malloc'd
 * buffer. NULL with errno E2BIG when the payload would pass the frame
 * limit, ENOMEM when memory runs out. */
uint8_t *request_run(const struct run_request *rq, size_t *len);

/* Builds {t: <t>, v: 1} (and `now: true` when now) as a frame into buf
 * (at least 32 bytes) for a short t; returns its length. */
size_t request_simple(uint8_t *buf, const char *t, int now);

#endif
