/* Finding, checking and starting the daemon: its socket directory, the
 * connection, and the one-starter-at-a-time spawn under a lock. */
#ifndef WARM_DAEMON_H
#define WARM_DAEMON_H

#include <limits.h>
#include <sys/un.h>

struct daemon_path {
	char dir[PATH_MAX];
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

enum {
	DIR_OK = 0,
	DIR_MISSING,  /* absent, and we were asked not to create it */
	DIR_INSECURE, /* exists but not ours / not private: reason says why */
	DIR_ERROR     /* could not look or create; errno says why */
};

/* Works out the socket directory ($XDG_RUNTIME_DIR/warm, else
 * /tmp/warm-<uid>) and checks it is a directory owned by us with mode
 * 0700; creates it when missing if create is set. */
int daemon_dir(struct daemon_path *dp, int create, char *reason, size_t reasonsz);

/* Connects to the daemon's socket: an fd (close-on-exec), or -1 with
 * errno (ENOENT / ECONNREFUSED when no daemon listens). */
int daemon_connect(const struct daemon_path *dp);

/* Connects, starting the daemon first when none listens. -1 when it cannot
 * be reached (the reason is traced). */
int daemon_connect_or_start(const struct daemon_path *dp);

/* The node binary that runs the daemon: $WARM_NODE, else "node" on PATH
 * (never the shim), as an absolute path; NULL when there is none. */
char *daemon_find_node(void);

/* <root><tail> (tail such as "/daemon/dist/main.js"), where the shim is
 * <root>/<dir>/warm; NULL (traced) when it is not readable. */
char *daemon_find_file(const char *tail);

#endif
