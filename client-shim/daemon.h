/* Reaching the daemon: a bounded connect to its socket (through the
 * checked directory) that trusts only a daemon running as our own uid,
 * and the one-starter-at-a-time start under a lock. */
#ifndef WARM_DAEMON_H
#define WARM_DAEMON_H

#include "sockdir.h"

#include <sys/types.h>

enum {
	DAEMON_OK = 0,
	DAEMON_NONE,         /* none listens (or it could not start): run directly */
	DAEMON_UNRESPONSIVE, /* it did not accept or start in time: run directly, leave the marker */
	DAEMON_REFUSED       /* not ours (another uid, not a socket): said so; run directly */
};

/* Connects to a running daemon. On DAEMON_OK *fd is the link (close-on-exec,
 * its send and receive bounded by the deadline) and *pid the daemon's.
 * for_fds: the caller's fds will follow, so a daemon whose heartbeat (its
 * socket's mtime) is stale counts as unresponsive. */
int daemon_connect(const struct daemon_path *dp, int *fd, pid_t *pid, int for_fds);

/* Connects, starting the daemon first when none listens. */
int daemon_connect_or_start(const struct daemon_path *dp, int *fd, pid_t *pid);

/* The node binary that runs the daemon: $WARM_NODE, else "node" on PATH
 * (never the shim), as an absolute path; NULL when there is none. */
char *daemon_find_node(void);

/* <root><tail> (tail such as "/daemon/dist/main.js"), where the shim is
 * <root>/<dir>/warm; NULL (traced) when it is not readable. */
char *daemon_find_file(const char *tail);

/* The node binary that runs the daemon: $WARM_NODE, else "node" on PATH
 * (never the shim), as an absolute path; NULL when there is none. */
char *daemon_find_node(void);

/* <root><tail> (tail such as "/daemon/dist/main.js"), where the shim is
 * <root>/<dir>/warm; NULL (traced) when it is not readable. */
char *daemon_find_file(const char *tail);

#endif
