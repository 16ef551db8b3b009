/* The state of fds 0-2 that Node restores when it exits: their file status
 * flags (O_NONBLOCK is shared with whoever else holds the file) and, for
 * terminals, their termios. A warm Node process cannot do this itself (it
 * saw other fds when it started), so the shim does it for it. */
#ifndef WARM_STDIO_STATE_H
#define WARM_STDIO_STATE_H

#include <termios.h>

struct stdio_state {
	int flags[3];         /* -1 when unknown */
	int is_tty[3];
	struct termios tio[3];
};

void stdio_state_save(struct stdio_state *s);

/* Puts fds 0-2 back as saved; a background job is not stopped by it. */
void stdio_state_restore(const struct stdio_state *s);

#endif
