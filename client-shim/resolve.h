/* Finding the executable a command word names, as execvp does, but never
 * the shim itself (so a symlink farm of shims on PATH finds the real tools). */
#ifndef WARM_RESOLVE_H
#define WARM_RESOLVE_H

#include <sys/types.h>

enum {
	RESOLVE_OK = 0,
	RESOLVE_NOT_FOUND, /* no candidate anywhere on PATH */
	RESOLVE_EACCES     /* only candidates we may not execute */
};

/* cmd containing '/' is used as is; otherwise PATH is searched ("/bin:/usr/bin"
 * when unset; an empty entry is the current directory), skipping
 * directories, non-executables and the shim. On RESOLVE_OK *out is a
 * malloc'd path (relative if the PATH entry was). */
int resolve_command(const char *cmd, char **out);

/* True when path is a regular file we may execute (and not the shim). */
int resolve_runnable(const char *path);

/* True when st is the shim's own executable (compares device and inode with
 * /proc/self/exe, so symlinks and hard links to the shim count too). */
int resolve_is_self(dev_t dev, ino_t ino);

/* The shim's own absolute path (malloc'd), or NULL. */
char *resolve_self_path(void);

#endif
