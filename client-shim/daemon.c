#include "daemon.h"
#include "deadline.h"
#include "spawn.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SOCK_NAME "daemon.sock"
/* The daemon sets its socket's mtime to now every second, and its atime to
 * 0 to say it does (daemon/src/main.ts, heartbeat): one not touched for
 * this long is not running its loop (stopped, stuck), and a request sent
 * to it would leave the caller's fds in its queue, holding a pipe open,
 * until it reads them. (A socket systemd holds for a daemon not yet
 * started has its creation time as atime: no heartbeat to judge.) */
#define HEARTBEAT_STALE_S 10
/* Below this many processes (`ulimit -u`) warm starts no daemon: it and
 * its warm processes would use up what the user's own commands need. */
#define MIN_NPROC 256

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

/* Only a daemon of our own uid may hear a request: it carries our env,
 * argv and fds. SO_PEERCRED names whoever called listen(). */
static int peer_ok(const struct daemon_path *dp, int fd, pid_t *pid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		TRACE("SO_PEERCRED: %s", strerror(errno));
		return 0;
	}
	if (cred.uid != geteuid()) {
		say("refusing the daemon at %s/%s: it runs as uid %ld, not %ld", dp->dir, SOCK_NAME,
		    (long)cred.uid, (long)geteuid());
		return 0;
	}
	*pid = cred.pid;
	return 1;
}

int daemon_connect(const struct daemon_path *dp, int *fd, pid_t *pid, int for_fds)
{
	struct sockaddr_un addr;
	struct stat st;
	int s, e, stale;

	if (fstatat(dp->dirfd, SOCK_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		TRACE("no %s in %s: %s", SOCK_NAME, dp->dir, strerror(errno));
		return DAEMON_NONE;
	}
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
		say("refusing %s/%s: %s", dp->dir, SOCK_NAME,
		    S_ISLNK(st.st_mode) ? "it is a symlink" : !S_ISSOCK(st.st_mode) ? "not a socket" : "owned by another uid");
		return DAEMON_REFUSED;
	}
	stale = for_fds && st.st_atime == 0 && time(NULL) - st.st_mtime > HEARTBEAT_STALE_S;
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return DAEMON_NONE;
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, dp->sock, strlen(dp->sock) + 1);
	/* SO_SNDTIMEO bounds a connect that waits for room in a full accept
	 * backlog: it fails with EAGAIN once the deadline passes. */
	for (;;) {
		if (deadline_bound(s, SO_SNDTIMEO) < 0) {
			e = errno;
			break;
		}
		if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
			if (!peer_ok(dp, s, pid)) {
				close(s);
				return DAEMON_REFUSED;
			}
			if (stale) {
				/* Listening, but not running its loop: connected,
				 * nothing sent (a socket left by a dead daemon
				 * refuses instead, and a new one starts). */
				TRACE("%s/%s: no heartbeat for %lds", dp->dir, SOCK_NAME,
				      (long)(time(NULL) - st.st_mtime));
				close(s);
				return DAEMON_UNRESPONSIVE;
			}
			*fd = s;
			return DAEMON_OK;
		}
		e = errno;
		if (e != EINTR)
			break;
	}
	close(s);
	TRACE("connect %s/%s: %s", dp->dir, SOCK_NAME, strerror(e));
	if (e == EAGAIN || e == ETIMEDOUT)
		return DAEMON_UNRESPONSIVE;
	return DAEMON_NONE;
}

/* Waits (bounded) for the spawn lock. 0, or -1 when it took too long. */
static int lock_bounded(int lock)
{
	long nap = 1;

	for (;;) {
		if (flock(lock, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		if (deadline_left_ms() <= 0)
			return -1;
		sleep_ms(nap < deadline_left_ms() ? nap : deadline_left_ms());
		nap = nap * 2 > 20 ? 20 : nap * 2;
	}
}

/* Under the spawn lock: start the daemon, wait for its word, connect. */
static int start_and_connect(const struct daemon_path *dp, int *fd, pid_t *pid)
{
	struct rlimit rl;
	pid_t started;
	int r;

	if (geteuid() != 0 && getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
	    && rl.rlim_cur < MIN_NPROC) {
		TRACE("ulimit -u is %ld: no daemon under so few processes", (long)rl.rlim_cur);
		return DAEMON_NONE;
	}
	r = spawn_daemon(&started);
	if (r == SPAWN_READY || r == SPAWN_FAILED) {
		/* Failed: maybe another daemon holds the lock and listens now. */
		r = daemon_connect(dp, fd, pid, 1);
		if (r == DAEMON_OK)
			TRACE("connected to %s/%s", dp->dir, SOCK_NAME);
		return r;
	}
	if (r == SPAWN_TIMEOUT) {
		*pid = started;
		TRACE("the daemon (pid %ld) was not ready within %ld ms", (long)started, deadline_limit_ms());
		return DAEMON_UNRESPONSIVE;
	}
	return DAEMON_NONE;
}

int daemon_connect_or_start(const struct daemon_path *dp, int *fd, pid_t *pid)
{
	int lock, r;

	r = daemon_connect(dp, fd, pid, 1);
	if (r == DAEMON_OK)
		TRACE("connected to %s/%s", dp->dir, SOCK_NAME);
	if (r != DAEMON_NONE)
		return r;

	/* One starter at a time: whoever gets the lock first starts the
	 * daemon; the others find it listening once they get the lock. */
	lock = openat(dp->dirfd, "spawn.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lock < 0) {
		TRACE("open spawn.lock: %s", strerror(errno));
		return DAEMON_NONE;
	}
	if (lock_bounded(lock) < 0) {
		/* Another shim is starting it and will judge it. */
		TRACE("spawn.lock: not ours in time (%s)", strerror(errno));
		close(lock);
		return DAEMON_NONE;
	}
	TRACE("locked spawn.lock");
	r = daemon_connect(dp, fd, pid, 1);
	if (r == DAEMON_OK)
		TRACE("connected to %s/%s (started by another)", dp->dir, SOCK_NAME);
	else if (r == DAEMON_NONE)
		r = start_and_connect(dp, fd, pid);
	/* LOCK_UN releases it even though a forked child briefly shared it */
	flock(lock, LOCK_UN);
	close(lock);
	return r;
}
