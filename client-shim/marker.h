/* The "unresponsive" marker next to the socket: a shim that waited its
 * whole limit for a daemon that never took its request (stopped, spinning,
 * accept backlog full, stuck starting) leaves it, so the callers after it
 * run directly at once instead of each waiting that long. Every
 * MARKER_RETRY_S one caller tries the daemon again (and removes the marker
 * if it answers); a daemon that starts removes it too. */
#ifndef WARM_MARKER_H
#define WARM_MARKER_H

#include <sys/types.h>

#define MARKER_NAME "unresponsive"
#define MARKER_RETRY_S 10

/* 1 when a fresh marker says to run directly. When the marker is older
 * than MARKER_RETRY_S this caller claims the retry (touches it, so others
 * keep going direct meanwhile), sets *present and returns 0. */
int marker_check(int dirfd, int *present);

/* Leaves the marker, naming the daemon (pid 0 if unknown). */
void marker_set(int dirfd, pid_t pid, const char *why);

void marker_clear(int dirfd);

#endif
