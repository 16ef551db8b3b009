#include <sys/types.h>
#include <sys/stat.h>

#include "resolve.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

char *resolve_self_path(void)
{
	char buf[PATH_MAX];
	const char *fn;
	ssize_t n;

	n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		return strdup(buf);
	}
	/* No /proc: the path we were exec'd by (still relative to our cwd). */
	fn = (const char *)getauxval(AT_EXECFN);
	return fn ? realpath(fn, NULL) : NULL;
}

int resolve_is_self(dev_t dev, ino_t ino)
{
	static int known; /* 0 unknown, 1 known, -1 unavailable */
	static dev_t self_dev;
	static ino_t self_ino;
	const char *fn;
	struct stat st;

	if (!known) {
		/* Without /proc, fall back to the path we were exec'd by: never
		 * knowing ourselves would make a shim symlink exec itself forever. */
		if (stat("/proc/self/exe", &st) == 0
		    || ((fn = (const char *)getauxval(AT_EXECFN)) && stat(fn, &st) == 0)) {
			self_dev = st.st_dev;
			self_ino = st.st_ino;
			known = 1;
		} else {
			known = -1;
		}
	}
	return known == 1 && dev == self_dev && ino == self_ino;
}

int resolve_runnable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode)
		&& !resolve_is_self(st.st_dev, st.st_ino)
		&& access(path, X_OK) == 0;
}

int resolve_command(const char *cmd, char **out)
{
	const char *path, *dir, *colon;
	size_t clen, dlen;
	char buf[PATH_MAX];
	struct stat st;
	int eacces = 0;

	if (strchr(cmd, '/')) {
		*out = strdup(cmd);
		return *out ? RESOLVE_OK : RESOLVE_NOT_FOUND;
	}
	clen = strlen(cmd);
	if (clen == 0)
		return RESOLVE_NOT_FOUND;
	path = getenv("PATH");
	if (!path)
		path = "/bin:/usr/bin"; /* glibc's execvp default */

	for (dir = path;; dir = colon + 1) {
		colon = strchr(dir, ':');
		dlen = colon ? (size_t)(colon - dir) : strlen(dir);
		if (dlen + 1 + clen < sizeof(buf)) {
			/* an empty entry means the current directory */
			if (dlen) {
				memcpy(buf, dir, dlen);
				buf[dlen] = '/';
				memcpy(buf + dlen + 1, cmd, clen + 1);
			} else {
				memcpy(buf, cmd, clen + 1);
			}
			if (stat(buf, &st) < 0) {
				/* a directory we may not search counts, as in execvp */
				if (errno == EACCES)
					eacces = 1;
			} else if (!S_ISDIR(st.st_mode)
				   && !resolve_is_self(st.st_dev, st.st_ino)) {
				if (S_ISREG(st.st_mode) && access(buf, X_OK) == 0) {
					*out = strdup(buf);
					return *out ? RESOLVE_OK : RESOLVE_NOT_FOUND;
				}
				eacces = 1;
			}
		}
		if (!colon)
			break;
	}
	return eacces ? RESOLVE_EACCES : RESOLVE_NOT_FOUND;
}
