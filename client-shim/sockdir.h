/* The daemon's socket directory ($XDG_RUNTIME_DIR/warm, else
 * /tmp/warm-<uid>), opened by walking down from "/" one component at a
 * time, so what is checked is exactly what is used: nothing can be swapped
 * in between. Every directory above it must be root's or ours and not
 * writable by others (unless sticky, like /tmp); a symlink on the way is
 * followed only when it too is root's or ours; the directory itself must
 * be ours, mode 0700, and not a symlink. */
#ifndef WARM_SOCKDIR_H
#define WARM_SOCKDIR_H

#include <limits.h>
#include <sys/un.h>

struct daemon_path {
	char dir[PATH_MAX];  /* the directory's path, for messages */
	int dirfd;           /* the checked directory (O_PATH), or -1 */
	/* The socket through dirfd ("/proc/self/fd/<dirfd>/daemon.sock"),
	 * so connecting never resolves the path again. */
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

enum {
	DIR_OK = 0,
	DIR_MISSING,  /* absent, and we were asked not to create it */
	DIR_INSECURE, /* not safe to use: reason says why */
	DIR_ERROR     /* could not look or create; errno says why */
};

/* Finds, checks and opens the socket directory; creates it (0700) when
 * missing if create is set. On DIR_OK dp->dirfd is open (close-on-exec). */
int daemon_dir(struct daemon_path *dp, int create, char *reason, size_t reasonsz);

/* The XDG base directory variable's value if it is an absolute path, else
 * NULL: the spec says a relative one is invalid and must be ignored (the
 * daemon follows the same rule). */
const char *xdg_dir(const char *name);

#endif
