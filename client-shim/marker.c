#include "marker.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int marker_check(int dirfd, int *present)
{
	struct stat st;
	time_t now = time(NULL);

	*present = 0;
	if (fstatat(dirfd, MARKER_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	*present = 1;
	if (st.st_mtime <= now && now - st.st_mtime < MARKER_RETRY_S) {
		TRACE("the daemon was unresponsive %lds ago: running directly", (long)(now - st.st_mtime));
		return 1;
	}
	TRACE("the daemon was unresponsive %lds ago: trying it again", (long)(now - st.st_mtime));
	utimensat(dirfd, MARKER_NAME, NULL, AT_SYMLINK_NOFOLLOW);
	return 0;
}

void marker_set(int dirfd, pid_t pid, const char *why)
{
	char line[160];
	int fd, n;

	fd = openat(dirfd, MARKER_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		TRACE("cannot leave the %s marker: %s", MARKER_NAME, strerror(errno));
		return;
	}
	n = snprintf(line, sizeof(line), "pid %ld at %ld: %s\n", (long)pid, (long)time(NULL), why);
	if (n > 0 && write(fd, line, (size_t)n) < 0) {
		/* the file's time is what counts */
	}
	close(fd);
	TRACE("left the %s marker (daemon pid %ld: %s)", MARKER_NAME, (long)pid, why);
}

void marker_clear(int dirfd)
{
	if (unlinkat(dirfd, MARKER_NAME, 0) == 0)
		TRACE("removed the %s marker", MARKER_NAME);
}
