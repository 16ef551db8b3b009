#include "daemon.h"
#include "resolve.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 5000
#define POLL_MAX_SLEEP_MS 25

static int check_dir(const char *dir, const struct stat *st, char *reason, size_t sz)
{
	if (S_ISLNK(st->st_mode))
		snprintf(reason, sz, "it is a symlink");
	else if (!S_ISDIR(st->st_mode))
		snprintf(reason, sz, "not a directory");
	else if (st->st_uid != geteuid())
		snprintf(reason, sz, "owned by uid %ld", (long)st->st_uid);
	else if (st->st_mode & 077)
		snprintf(reason, sz, "mode %04o", (unsigned)(st->st_mode & 07777));
	else
		return DIR_OK;
	(void)dir;
	return DIR_INSECURE;
}

int daemon_dir(struct daemon_path *dp, int create, char *reason, size_t reasonsz)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	int n;

	if (xdg && *xdg)
		n = snprintf(dp->dir, sizeof(dp->dir), "%s/warm", xdg);
	else
		n = snprintf(dp->dir, sizeof(dp->dir), "/tmp/warm-%ld", (long)geteuid());
	if (n < 0 || n >= (int)sizeof(dp->dir)) {
		errno = ENAMETOOLONG;
		return DIR_ERROR;
	}
	n = snprintf(dp->sock, sizeof(dp->sock), "%s/daemon.sock", dp->dir);
	if (n < 0 || n >= (int)sizeof(dp->sock)) {
		errno = ENAMETOOLONG;
		return DIR_ERROR;
	}

	if (lstat(dp->dir, &st) == 0)
		return check_dir(dp->dir, &st, reason, reasonsz);
	if (errno != ENOENT)
		return DIR_ERROR;
	if (!create)
		return DIR_MISSING;
	if (mkdir(dp->dir, 0700) == 0) {
		/* mkdir honours the umask; say exactly what we want */
		if (chmod(dp->dir, 0700) < 0)
			return DIR_ERROR;
		TRACE("created %s", dp->dir);
	} else if (errno != EEXIST) {
		return DIR_ERROR;
	}
	/* check what is there now, whoever made it */
	if (lstat(dp->dir, &st) < 0)
		return DIR_ERROR;
	return check_dir(dp->dir, &st, reason, reasonsz);
}

int daemon_connect(const struct daemon_path *dp)
{
	struct sockaddr_un addr;
	int fd, e;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, dp->sock, strlen(dp->sock) + 1);
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (errno == EINTR)
			continue;
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* Closes every fd from 3 up. */
static void close_from_3(void)
{
	long fd, max;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3, ~0U, 0) == 0)
		return;
#endif
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++)
		close((int)fd);
}

/* In the grandchild: become a clean daemon process and exec node. */
static void exec_daemon(const char *node, const char *script)
{
	char *argv[3];
	struct sigaction sa;
	sigset_t none;
	int sig, fd;

	/* Dispositions set to SIG_IGN and the mask survive exec; the daemon
	 * should start from the defaults, whatever our caller left us. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	close_from_3();
	/* Do not pin the caller's directory (it might be unmounted later). */
	if (chdir("/") < 0) {
		/* harmless */
	}
	argv[0] = (char *)node;
	argv[1] = (char *)script;
	argv[2] = NULL;
	execv(node, argv);
	_exit(127);
}

/* Double fork so the daemon is nobody's child of ours and leads its own
 * session. Returns the daemon's pid (or 0 if unknown), or -1. */
static pid_t spawn_daemon(const char *node, const char *script)
{
	int pfd[2];
	pid_t child, gpid = 0, w;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	child = fork();
	if (child < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (child == 0) {
		pid_t g;

		close(pfd[0]);
		setsid();
		g = fork();
		if (g == 0)
			exec_daemon(node, script);
		if (write(pfd[1], &g, sizeof(g)) < 0) {
			/* the parent just won't know the pid */
		}
		_exit(g < 0 ? 1 : 0);
	}
	close(pfd[1]);
	do
		n = read(pfd[0], &gpid, sizeof(gpid));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(gpid))
		gpid = 0;
	close(pfd[0]);
	do
		w = waitpid(child, NULL, 0);
	while (w < 0 && errno == EINTR);
	return gpid < 0 ? -1 : gpid;
}

/* False once the process we started is gone (or a zombie), so a daemon that
 * dies at start does not cost us the whole timeout. */
static int still_running(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return 1;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')' */
	p = strrchr(buf, ')');
	return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

char *daemon_find_node(void)
{
	const char *want = getenv("WARM_NODE");
	char *node = NULL;

	if (!want || !*want)
		want = "node";
	if (resolve_command(want, &node) != RESOLVE_OK) {
		TRACE("cannot find %s to start the daemon", want);
		return NULL;
	}
	if (node[0] != '/') {
		/* the daemon starts in "/": make a relative path absolute */
		char *abs = realpath(node, NULL);

		free(node);
		if (!abs)
			TRACE("cannot find %s to start the daemon", want);
		return abs;
	}
	return node;
}

char *daemon_find_file(const char *tail)
{
	char *self, *slash, *script;
	int i;

	self = resolve_self_path();
	if (!self) {
		TRACE("cannot find the shim's own path");
		return NULL;
	}
	for (i = 0; i < 2; i++) {
		slash = strrchr(self, '/');
		if (!slash) {
			TRACE("cannot find the root above %s", self);
			free(self);
			return NULL;
		}
		*slash = '\0';
	}
	script = malloc(strlen(self) + strlen(tail) + 1);
	if (!script) {
		free(self);
		return NULL;
	}
	strcpy(script, self);
	strcat(script, tail);
	free(self);
	if (access(script, R_OK) < 0) {
		TRACE("no daemon at %s: %s", script, strerror(errno));
		free(script);
		return NULL;
	}
	return script;
}

/* Under the spawn lock: start the daemon and wait until it accepts. */
static int start_and_connect(const struct daemon_path *dp)
{
	char *node, *script;
	long long deadline;
	long delay = 1;
	pid_t pid;
	int fd = -1;

	node = daemon_find_node();
	if (!node)
		return -1;
	script = daemon_find_file("/daemon/dist/main.js");
	if (!script) {
		free(node);
		return -1;
	}
	pid = spawn_daemon(node, script);
	TRACE("started daemon pid %ld: %s %s", (long)pid, node, script);
	free(node);
	free(script);
	if (pid < 0)
		return -1;
	deadline = now_ms() + START_TIMEOUT_MS;
	for (;;) {
		sleep_ms(delay);
		fd = daemon_connect(dp);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN) {
			TRACE("connect %s: %s", dp->sock, strerror(errno));
			return -1;
		}
		if (!still_running(pid)) {
			TRACE("the daemon (pid %ld) exited before listening", (long)pid);
			return -1;
		}
		if (now_ms() >= deadline) {
			TRACE("the daemon did not listen within %d ms", START_TIMEOUT_MS);
			return -1;
		}
		delay = delay * 2 > POLL_MAX_SLEEP_MS ? POLL_MAX_SLEEP_MS : delay * 2;
	}
}

int daemon_connect_or_start(const struct daemon_path *dp)
{
	char lockpath[sizeof(dp->dir) + sizeof("/spawn.lock")];
	int fd, lock, e;

	fd = daemon_connect(dp);
	if (fd >= 0) {
		TRACE("connected to %s", dp->sock);
		return fd;
	}
	if (errno != ENOENT && errno != ECONNREFUSED) {
		TRACE("connect %s: %s", dp->sock, strerror(errno));
		return -1;
	}
	TRACE("no daemon at %s (%s)", dp->sock, strerror(errno));

	/* One starter at a time: whoever gets the lock first starts the
	 * daemon; the others find it listening once they get the lock. */
	snprintf(lockpath, sizeof(lockpath), "%s/spawn.lock", dp->dir);
	lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0) {
		TRACE("open %s: %s", lockpath, strerror(errno));
		return -1;
	}
	while (flock(lock, LOCK_EX) < 0) {
		if (errno != EINTR) {
			TRACE("flock %s: %s", lockpath, strerror(errno));
			close(lock);
			return -1;
		}
	}
	TRACE("locked %s", lockpath);
	fd = daemon_connect(dp);
	if (fd >= 0) {
		TRACE("connected to %s (started by another)", dp->sock);
	} else if (errno == ENOENT || errno == ECONNREFUSED) {
		fd = start_and_connect(dp);
		if (fd >= 0)
			TRACE("connected to %s", dp->sock);
	} else {
		TRACE("connect %s: %s", dp->sock, strerror(errno));
	}
	e = errno;
	/* LOCK_UN releases it even though a forked child briefly shared it */
	flock(lock, LOCK_UN);
	close(lock);
	errno = e;
	return fd;
}
