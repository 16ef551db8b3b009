#include "spawn.h"
#include "daemon.h"
#include "deadline.h"
#include "resolve.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Closes every fd from `from` up. */
static void close_from(int from)
{
	long fd, max;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)from, ~0U, 0) == 0)
		return;
#endif
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = from; fd < max; fd++)
		close((int)fd);
}

/* Waits (EINTR-safe) up to ms for fd to be readable: >0 ready, 0 timeout, <0 error. */
static int wait_readable(int fd, long ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int r;

	do
		r = poll(&p, 1, (int)ms);
	while (r < 0 && errno == EINTR);
	return r;
}

/* In the daemon: default signals, fds 0-2 /dev/null, the ready pipe on 3,
 * nothing else; exec node. */
static void exec_daemon(const char *node, const char *script, int ready) __attribute__((noreturn));
static void exec_daemon(const char *node, const char *script, int ready)
{
	char *argv[4];
	struct sigaction sa;
	sigset_t none;
	int sig;

	/* Dispositions set to SIG_IGN and the mask survive exec; the daemon
	 * should start from the defaults, whatever our caller left us. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(ready, 3) < 0)
		_exit(127);
	close_from(4);
	argv[0] = (char *)node;
	argv[1] = (char *)script;
	argv[2] = "--ready-fd=3";
	argv[3] = NULL;
	execv(node, argv);
	_exit(127);
}

/* The watchdog (fd 3: the pipe to the shim). Never returns. */
static void watchdog(const char *node, const char *script) __attribute__((noreturn));
static void watchdog(const char *node, const char *script)
{
	int ready[2], r;
	pid_t d;
	char c;

	signal(SIGPIPE, SIG_IGN); /* the shim may have gone on without us */
	if (pipe2(ready, O_CLOEXEC) < 0)
		_exit(1);
	d = fork();
	if (d < 0)
		_exit(1);
	if (d == 0)
		exec_daemon(node, script, ready[1]);
	close(ready[1]);
	if (write(3, &d, sizeof(d)) < 0) {
		/* the shim is gone: still watch the daemon */
	}
	r = wait_readable(ready[0], WATCHDOG_MS + deadline_limit_ms());
	if (r > 0 && read(ready[0], &c, 1) == 1) {
		if (write(3, "r", 1) < 0) {
			/* as above */
		}
		_exit(0); /* the daemon runs on, init's child from now */
	}
	if (r == 0)
		kill(d, SIGKILL); /* stuck starting */
	while (waitpid(d, NULL, 0) < 0 && errno == EINTR)
		;
	_exit(0);
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

/* Forks the session leader that forks the watchdog and exits at once, so
 * nothing of the daemon's start stays our child (a tool run directly
 * after us inherits our children). Returns the read end of the pipe from
 * the watchdog, or -1. */
static int fork_watchdog(const char *node, const char *script)
{
	int pfd[2], devnull;
	pid_t child, w;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	child = fork();
	if (child < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (child == 0) {
		setsid();
		/* Hold none of the caller's fds: a pipe must see EOF when the
		 * caller is done, whatever the daemon does. */
		devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		if (dup2(pfd[1], 3) < 0)
			_exit(1);
		close_from(4);
		if (chdir("/") < 0) {
			/* harmless: do not pin the caller's directory */
		}
		w = fork();
		if (w == 0)
			watchdog(node, script);
		_exit(w < 0 ? 1 : 0);
	}
	close(pfd[1]);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	return pfd[0];
}

/* Reads exactly n bytes within the deadline: 1, 0 at EOF, -1 timeout/error. */
static int read_bounded(int fd, void *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		int w = wait_readable(fd, deadline_left_ms());

		if (w == 0)
			return -1;
		if (w < 0)
			return -1;
		r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? 0 : -1;
		got += (size_t)r;
	}
	return 1;
}

int spawn_daemon(pid_t *pid)
{
	char *node, *script, c;
	int fd, r;

	*pid = 0;
	node = daemon_find_node();
	if (!node)
		return SPAWN_ERROR;
	script = daemon_find_file("/daemon/dist/main.js");
	if (!script) {
		free(node);
		return SPAWN_ERROR;
	}
	fd = fork_watchdog(node, script);
	TRACE("starting the daemon: %s %s", node, script);
	free(node);
	free(script);
	if (fd < 0)
		return SPAWN_ERROR;
	r = read_bounded(fd, pid, sizeof(*pid));
	if (r > 0) {
		TRACE("daemon pid %ld", (long)*pid);
		r = read_bounded(fd, &c, 1);
	}
	close(fd);
	if (r > 0) {
		TRACE("the daemon is ready");
		return SPAWN_READY;
	}
	if (r == 0) {
		TRACE("the daemon exited while starting");
		return SPAWN_FAILED;
	}
	return deadline_left_ms() > 0 ? SPAWN_ERROR : SPAWN_TIMEOUT;
}
