#include "sockdir.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LINKS 40

const char *xdg_dir(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] == '/' ? v : NULL;
}

/* A directory on the way down: root's or ours, and nobody else may
 * rename or replace what is in it (not writable by others, or sticky). */
static int check_above(const char *path, const struct stat *st, uid_t me, char *reason, size_t sz)
{
	if (!S_ISDIR(st->st_mode))
		snprintf(reason, sz, "%s is not a directory", path);
	else if (st->st_uid != 0 && st->st_uid != me)
		snprintf(reason, sz, "%s is owned by uid %ld (each directory above the socket's must be root's or uid %ld's)",
			 path, (long)st->st_uid, (long)me);
	else if ((st->st_mode & 022) && !(st->st_mode & S_ISVTX))
		snprintf(reason, sz, "%s has mode %04o (others may replace what is in it)",
			 path, (unsigned)(st->st_mode & 07777));
	else
		return DIR_OK;
	return DIR_INSECURE;
}

static int check_own(const struct stat *st, uid_t me, char *reason, size_t sz)
{
	if (S_ISLNK(st->st_mode))
		snprintf(reason, sz, "it is a symlink");
	else if (!S_ISDIR(st->st_mode))
		snprintf(reason, sz, "not a directory");
	else if (st->st_uid != me)
		snprintf(reason, sz, "owned by uid %ld", (long)st->st_uid);
	else if (st->st_mode & 077)
		snprintf(reason, sz, "mode %04o", (unsigned)(st->st_mode & 07777));
	else
		return DIR_OK;
	snprintf(reason + strlen(reason), sz - strlen(reason),
		 " (must be a directory owned by uid %ld with mode 0700)", (long)me);
	return DIR_INSECURE;
}

/* Creates the last component, ours and exactly 0700 whatever the umask.
 * Returns an O_PATH fd of it, or -1. */
static int make_own(int parent, const char *name)
{
	int fd;

	if (mkdirat(parent, name, 0700) < 0)
		return errno == EEXIST ? openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC) : -1;
	/* Only a directory we made is chmod'ed: never one someone else put there. */
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && fchmod(fd, 0700) < 0) {
		close(fd);
		return -1;
	}
	TRACE("created %s", name);
	return fd;
}

/* Walks `path` from "/" (see sockdir.h). Returns the final directory's fd
 * or -1 with *result set. */
static int walk(const char *path, int create, uid_t me, int *result, char *reason, size_t sz)
{
	char rest[2 * PATH_MAX], seen[PATH_MAX], name[NAME_MAX + 1];
	struct stat st;
	size_t len, seenlen = 0;
	int fd, nfd, links = 0, last;
	char *p = rest, *end;

	*result = DIR_ERROR;
	if (strlen(path) >= sizeof(rest)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(rest, path);
	seen[0] = '\0';
	fd = open("/", O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || (*result = check_above("/", &st, me, reason, sz)) != DIR_OK)
		goto fail;
	*result = DIR_ERROR;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break; /* only reached for a path naming "/" itself */
		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len > NAME_MAX) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		p += len;
		while (*p == '/')
			p++;
		last = !*p;
		if (strcmp(name, ".") == 0 && !last)
			continue;
		if (seenlen + len + 2 < sizeof(seen)) {
			seen[seenlen++] = '/';
			memcpy(seen + seenlen, name, len + 1);
			seenlen += len;
		}
		nfd = openat(fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT && last) {
			if (!create) {
				*result = DIR_MISSING;
				goto fail;
			}
			nfd = make_own(fd, name);
		}
		if (nfd < 0 || fstat(nfd, &st) < 0) {
			if (nfd >= 0)
				close(nfd);
			goto fail;
		}
		if (last) {
			close(fd);
			*result = check_own(&st, me, reason, sz);
			if (*result != DIR_OK) {
				close(nfd);
				return -1;
			}
			return nfd;
		}
		if (S_ISLNK(st.st_mode)) {
			/* A link in a directory we trust, itself root's or ours:
			 * nobody else can change where it points. Continue at its
			 * target, then with what followed it. */
			char target[PATH_MAX], *tail = p;
			ssize_t n;

			close(nfd);
			if (st.st_uid != 0 && st.st_uid != me) {
				snprintf(reason, sz, "%s is a symlink owned by uid %ld", seen, (long)st.st_uid);
				*result = DIR_INSECURE;
				goto fail;
			}
			n = readlinkat(fd, name, target, sizeof(target) - 1);
			if (n <= 0 || ++links > MAX_LINKS) {
				if (n >= 0)
					errno = ELOOP;
				goto fail;
			}
			target[n] = '\0';
			if (strlen(target) + strlen(tail) + 2 > sizeof(rest)) {
				errno = ENAMETOOLONG;
				goto fail;
			}
			memmove(rest + n + 1, tail, strlen(tail) + 1);
			memcpy(rest, target, (size_t)n);
			rest[n] = '/';
			p = rest;
			if (target[0] == '/') {
				close(fd);
				fd = open("/", O_PATH | O_CLOEXEC);
				if (fd < 0)
					return -1;
			}
			continue;
		}
		if ((*result = check_above(seen, &st, me, reason, sz)) != DIR_OK) {
			close(nfd);
			goto fail;
		}
		*result = DIR_ERROR;
		close(fd);
		fd = nfd;
	}
	errno = EINVAL;
fail:
	close(fd);
	return -1;
}

int daemon_dir(struct daemon_path *dp, int create, char *reason, size_t reasonsz)
{
	const char *xdg = xdg_dir("XDG_RUNTIME_DIR");
	uid_t me = geteuid();
	int n, r;

	dp->dirfd = -1;
	if (xdg)
		n = snprintf(dp->dir, sizeof(dp->dir), "%s/warm", xdg);
	else
		n = snprintf(dp->dir, sizeof(dp->dir), "/tmp/warm-%ld", (long)me);
	if (n < 0 || n >= (int)sizeof(dp->dir)) {
		errno = ENAMETOOLONG;
		return DIR_ERROR;
	}
	dp->dirfd = walk(dp->dir, create, me, &r, reason, reasonsz);
	if (dp->dirfd < 0)
		return r;
	snprintf(dp->sock, sizeof(dp->sock), "/proc/self/fd/%d/daemon.sock", dp->dirfd);
	return DIR_OK;
}
