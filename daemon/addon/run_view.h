/* The parts of a run request (protocol-spec, `run`) a warm process takes on,
 * read straight from the shim's payload: no copies, spans into it. */
#ifndef WARM_RUN_VIEW_H
#define WARM_RUN_VIEW_H

#include <stddef.h>
#include <stdint.h>

struct span {
	const uint8_t *data;
	uint32_t len;
};

struct run_view {
	struct span *argv; /* malloc'd array of argc spans */
	uint32_t argc;
	struct span *env;  /* malloc'd array of envc spans */
	uint32_t envc;
	struct span cwd;
	int umask;
};

/* Fills v from payload p..p+n. Returns WIRE_OK, the spec's error code for a
 * malformed payload, WIRE_BAD_MESSAGE with *bad naming the field that is
 * missing or of the wrong type, or WIRE_IO (errno ENOMEM). On failure
 * nothing needs freeing. */
int run_view_parse(const uint8_t *p, size_t n, struct run_view *v, const char **bad);
void run_view_free(struct run_view *v);

#endif
