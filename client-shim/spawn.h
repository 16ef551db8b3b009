/* Starting the daemon. It runs in its own session, a child of a small
 * watchdog process, with a pipe on its fd 3 (`--ready-fd=3`) to which it
 * writes once it listens; it exits on any failure, closing the pipe. The
 * watchdog passes the word on to the shim, and if the daemon is not ready
 * within WATCHDOG_MS (stuck, e.g. unable to create its threads) kills it;
 * either way it reaps the daemon when that ends while starting, and exits. */
#ifndef WARM_SPAWN_H
#define WARM_SPAWN_H

#include <sys/types.h>

#define WATCHDOG_MS 10000

enum {
	SPAWN_READY,   /* it listens */
	SPAWN_FAILED,  /* it exited while starting */
	SPAWN_TIMEOUT, /* not ready within the shim's deadline (the watchdog waits on) */
	SPAWN_ERROR    /* could not even start it (no node, no daemon script, fork) */
};

/* Starts the daemon and waits (bounded by the deadline) for its word.
 * *pid is the daemon's pid once known (else 0). */
int spawn_daemon(pid_t *pid);

#endif
