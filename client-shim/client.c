#include "client.h"
#include "daemon.h"
#include "deadline.h"
#include "frame.h"
#include "marker.h"
#include "msgpack.h"
#include "reply.h"
#include "request.h"
#include "signals.h"
#include "stdio_state.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define STOP_WAIT_MS 5000
#define STOP_LOOK_MS 50

extern char **environ;

/* The shim's cwd, malloc'd, or NULL. */
static char *current_dir(void)
{
	char *buf;
	size_t size = 4096;

	for (;;) {
		buf = malloc(size);
		if (!buf)
			return NULL;
		if (getcwd(buf, size))
			return buf;
		free(buf);
		if (errno != ERANGE || size > (1u << 20))
			return NULL;
		size *= 2;
	}
}

/* exe made absolute against cwd (the daemon runs elsewhere). */
static char *absolute(const char *exe, const char *cwd)
{
	size_t a, b;
	char *p;

	if (exe[0] == '/')
		return strdup(exe);
	a = strlen(cwd);
	b = strlen(exe);
	p = malloc(a + b + 2);
	if (!p)
		return NULL;
	memcpy(p, cwd, a);
	p[a] = '/';
	memcpy(p + a + 1, exe, b + 1);
	return p;
}

/* What the tool would run with besides its uid: gid, supplementary groups
 * and resource limits (a warm process has the daemon's; it may only serve
 * callers whose are the same). */
static int credentials(int64_t **ids, size_t *nids, int64_t *rlimits)
{
	static const int resources[NRLIMITS] = RLIMITS;
	int n = getgroups(0, NULL), i;
	gid_t *groups;

	if (n < 0)
		return -1;
	groups = malloc(sizeof(gid_t) * (size_t)(n + 1));
	*ids = malloc(sizeof(int64_t) * (size_t)(n + 1));
	if (!groups || !*ids || (n = getgroups(n, groups)) < 0) {
		free(groups);
		free(*ids);
		*ids = NULL;
		return -1;
	}
	(*ids)[0] = getgid();
	for (i = 0; i < n; i++)
		(*ids)[i + 1] = groups[i];
	*nids = (size_t)n + 1;
	free(groups);
	for (i = 0; i < NRLIMITS; i++) {
		struct rlimit rl;

		if (getrlimit(resources[i], &rl) < 0)
			rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
		rlimits[2 * i] = rl.rlim_cur == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_cur;
		rlimits[2 * i + 1] = rl.rlim_max == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_max;
	}
	return 0;
}

enum { AWAIT_DIRECT, AWAIT_OTHER_VERSION, AWAIT_UNRESPONSIVE };

/* Whether the daemon has yet to read what we sent it (bytes still in our
 * socket's send queue): then it is stopped or stuck, not merely slow to
 * hand the run over. */
static int request_unread(int fd)
{
	int queued = 0;

	return ioctl(fd, SIOCOUTQ, &queued) == 0 && queued > 0;
}

/* Whether any of fds 0-2 is a terminal: where a job's stop is its shell's
 * business (job control). */
static int at_terminal(void)
{
	return isatty(0) || isatty(1) || isatty(2);
}

/* Reads replies until the tool ends (exits) or nothing has started and the
 * command should run directly (returns AWAIT_*). Until `started` every
 * read is bounded by the deadline. A marker_dirfd >= 0 names the
 * directory whose "unresponsive" marker goes once the daemon answers. */
static int await_tool(int fd, const char *name, const struct stdio_state *before, int marker_dirfd)
{
	struct frame_reader rd;
	struct reply rep;
	const uint8_t *payload;
	size_t len;
	int started = 0, err, reset = 0, timed_out = 0, unread = 0;
	long sent_at = deadline_used_ms();
	pid_t tool_pgid = 0;

	frame_reader_init(&rd, fd);
	for (;;) {
		if (!started && !timed_out && deadline_bound(fd, SO_RCVTIMEO) < 0)
			err = WIRE_IO;
		else
			err = frame_read(&rd, &payload, &len);
		if (started && err == WIRE_IO && errno == EAGAIN) {
			signals_follow_stop(); /* a wake-up to look at the tool */
			continue;
		}
		if (!started && !timed_out && err == WIRE_IO
		    && (errno == EAGAIN || errno == ETIMEDOUT)) {
			/* Out of time. Shutting our reading side makes any later
			 * write to this link fail, so a warm process that has not
			 * yet sent `started` never will, and never starts the tool
			 * (protocol-spec, "Reporting to the shim"); what is
			 * already queued is still read below. */
			timed_out = 1;
			/* Judged only when it had a fair while to read (a slow
			 * start may have used most of the limit before). */
			unread = request_unread(fd) && deadline_used_ms() - sent_at >= deadline_limit_ms() / 3;
			TRACE("no answer within %ld ms (%s)", deadline_limit_ms(),
			      unread ? "the daemon did not read the request" : "the hand-over is slow");
			shutdown(fd, SHUT_RD);
			continue;
		}
		if (err == WIRE_OK)
			err = reply_parse(payload, len, &rep);
		if (err == WIRE_OK && marker_dirfd >= 0 && !timed_out) {
			marker_clear(marker_dirfd); /* it answered */
			marker_dirfd = -1;
		}
		if (err == WIRE_OK && started
		    && (rep.type == REPLY_DIRECT || rep.type == REPLY_STARTED)) {
			rep.bad = "unexpected after started";
			err = WIRE_BAD_MESSAGE;
		} else if (err == WIRE_OK && (rep.type == REPLY_STATUS || rep.type == REPLY_OK)) {
			rep.bad = "unexpected reply to run";
			err = WIRE_BAD_MESSAGE;
		}
		if (err != WIRE_OK) {
			if (err == WIRE_IO)
				TRACE("reading the reply: %s", strerror(errno));
			else if (err == WIRE_BAD_MESSAGE)
				TRACE("bad reply: bad-message (%s)", rep.bad);
			else
				TRACE("reply: %s", wire_err_name(err));
			if (!started)
				break; /* nothing ran: run it directly */
			/* Nobody is left to report the tool's status: end it as a
			 * closed terminal would, so it does not run on unseen. */
			kill(-tool_pgid, SIGHUP);
			say("lost the daemon while running %s", name);
			exit(255);
		}
		switch (rep.type) {
		case REPLY_DIRECT:
			TRACE("daemon says direct: %.*s", rep.why.len, rep.why.s);
			goto direct;
		case REPLY_STARTED:
			started = 1;
			/* The tool runs as long as it runs; at a terminal, the shim
			 * looks every STOP_LOOK_MS whether it stopped itself. */
			deadline_lift(fd, at_terminal() ? STOP_LOOK_MS : 0);
			tool_pgid = rep.pgid;
			reset = rep.reset_stdio;
			signals_forward(rep.pid, rep.pgid);
			TRACE("started: pid %d pgid %d", rep.pid, rep.pgid);
			break;
		case REPLY_EXIT:
			/* An exit before started still means the tool ran:
			 * never run it twice. Node restores fds 0-2 as it found
			 * them whenever it exits on its own or by SIGINT/SIGTERM. */
			if (reset && (!rep.has_signal || rep.signal == SIGINT || rep.signal == SIGTERM))
				stdio_state_restore(before);
			if (rep.has_signal) {
				TRACE("exit: signal %d", rep.signal);
				signals_die(rep.signal);
				exit(128 + rep.signal);
			}
			TRACE("exit: code %d", rep.code);
			exit(rep.code);
		case REPLY_ERROR:
			if (!started) {
				TRACE("daemon error %.*s: %.*s", rep.code_name.len,
				      rep.code_name.s, rep.why.len, rep.why.s);
				frame_reader_free(&rd);
				return rep.code_name.len == 7 && memcmp(rep.code_name.s, "version", 7) == 0
					       ? AWAIT_OTHER_VERSION : AWAIT_DIRECT;
			}
			say("%.*s", rep.why.len, rep.why.s);
			exit(255);
		default:
			break;
		}
	}
direct:
	frame_reader_free(&rd);
	return timed_out && unread ? AWAIT_UNRESPONSIVE : AWAIT_DIRECT;
}

void client_run(const char *version, const char *exe, char **argv)
{
	struct daemon_path dp;
	struct run_request rq;
	struct stdio_state before;
	int64_t *ids = NULL, rlimits[2 * NRLIMITS];
	char reason[256], *cwd, *abs_exe;
	static const int stdio[3] = { 0, 1, 2 };
	uint8_t *frame;
	size_t len, argc;
	int fd, i, r, attempt, marked;
	pid_t pid = 0;

	/* A closed 0/1/2 cannot be passed (and our own socket would take its
	 * number): leave such runs alone. */
	for (i = 0; i < 3; i++) {
		if (fcntl(i, F_GETFD) < 0) {
			TRACE("fd %d is closed", i);
			return;
		}
	}

	/* A background job reading its terminal is stopped by SIGTTIN (and one
	 * writing to it, under `stty tostop`, by SIGTTOU); a warm process is in
	 * another session, where the kernel would not stop it and it could take
	 * the shell's input. A background job on its terminal runs directly. */
	for (i = 0; i < 3; i++) {
		pid_t fg = tcgetpgrp(i);

		if (fg > 0 && fg != getpgrp()) {
			TRACE("a background job on its terminal: running directly");
			return;
		}
	}

	cwd = current_dir();
	if (!cwd) {
		TRACE("getcwd: %s", strerror(errno));
		return;
	}
	abs_exe = absolute(exe, cwd);
	if (!abs_exe) {
		free(cwd);
		return;
	}
	for (argc = 0; argv[argc]; argc++)
		;
	rq.warm = version;
	rq.argv = argv;
	rq.argc = argc;
	rq.exe = abs_exe;
	rq.env = environ;
	rq.cwd = cwd;
	rq.umask = umask(0);
	umask(rq.umask);
	if (credentials(&ids, &rq.nids, rlimits) < 0) {
		TRACE("reading groups: %s", strerror(errno));
		free(abs_exe);
		free(cwd);
		return;
	}
	rq.ids = ids;
	rq.rlimits = rlimits;
	frame = request_run(&rq, &len);
	free(ids);
	free(abs_exe);
	free(cwd);
	if (!frame) {
		TRACE("cannot build the request: %s", strerror(errno));
		return;
	}

	deadline_start();
	r = daemon_dir(&dp, 1, reason, sizeof(reason));
	if (r == DIR_INSECURE) {
		say("refusing %s: %s; running %s directly", dp.dir, reason, argv[0]);
		free(frame);
		return;
	}
	if (r != DIR_OK) {
		TRACE("socket directory %s: %s", dp.dir, strerror(errno));
		free(frame);
		return;
	}
	if (marker_check(dp.dirfd, &marked)) {
		close(dp.dirfd);
		free(frame);
		return;
	}
	/* A daemon of another warm version answers `version` and retires at
	 * once (socket and lock released): one more try starts ours. */
	for (attempt = 0; attempt < 2; attempt++) {
		r = daemon_connect_or_start(&dp, &fd, &pid);
		if (r == DAEMON_UNRESPONSIVE)
			marker_set(dp.dirfd, pid, "did not accept or start in time");
		if (r != DAEMON_OK)
			break;
		/* Saved before the tool can touch them. */
		stdio_state_save(&before);
		signals_hold();
		if (frame_send(fd, frame, len, stdio, 3) < 0) {
			TRACE("sending the request: %s", strerror(errno));
			if (errno == EAGAIN)
				marker_set(dp.dirfd, pid, "did not read the request in time");
			close(fd);
			break;
		}
		TRACE("sent run (%zu bytes)", len);
		r = await_tool(fd, argv[0], &before, marked ? dp.dirfd : -1);
		close(fd);
		marked = 0;
		if (r == AWAIT_UNRESPONSIVE)
			marker_set(dp.dirfd, pid, "did not read the request in time");
		if (r != AWAIT_OTHER_VERSION)
			break;
		signals_release();
		TRACE("the daemon was of another warm version; starting ours");
	}
	close(dp.dirfd);
	free(frame);
	signals_release(); /* only reached when the command runs directly */
}

/* Connects to a running daemon for status/stop; never starts one. Returns
 * the fd, -1 for "no daemon running", -2 after printing another error. */
static int connect_running(void)
{
	struct daemon_path dp;
	char reason[256];
	pid_t pid;
	int r, fd = -1, i;

	/* Our socket must not land on a closed 0/1/2 (we print to 1 and 2). */
	for (i = 0; i < 3; i++) {
		if (fcntl(i, F_GETFD) < 0) {
			int n = open("/dev/null", O_RDWR);

			if (n >= 0 && n != i)
				close(n);
		}
	}
	deadline_start();
	r = daemon_dir(&dp, 0, reason, sizeof(reason));
	if (r == DIR_MISSING)
		return -1;
	if (r == DIR_INSECURE) {
		say("refusing %s: %s", dp.dir, reason);
		return -2;
	}
	if (r != DIR_OK) {
		say("%s: %s", dp.dir, strerror(errno));
		return -2;
	}
	r = daemon_connect(&dp, &fd, &pid, 0);
	close(dp.dirfd);
	if (r == DAEMON_OK) {
		TRACE("connected to %s", dp.dir);
		return fd;
	}
	if (r == DAEMON_NONE)
		return -1;
	if (r == DAEMON_UNRESPONSIVE)
		say("the daemon at %s did not accept within %ld ms (WARM_TIMEOUT_MS)", dp.dir, deadline_limit_ms());
	return -2;
}

/* Sends {t, v} (with `now: true` when now) and reads one reply into rep;
 * 0 or -1 (printed). */
static int ask(int fd, const char *t, int now, struct frame_reader *rd, struct reply *rep)
{
	uint8_t buf[32];
	const uint8_t *payload;
	size_t len = request_simple(buf, t, now), plen;
	int err;

	if (frame_send(fd, buf, len, NULL, 0) < 0) {
		say("sending %s to the daemon: %s", t, strerror(errno));
		return -1;
	}
	err = deadline_bound(fd, SO_RCVTIMEO) < 0 ? WIRE_IO : frame_read(rd, &payload, &plen);
	if (err == WIRE_OK)
		err = reply_parse(payload, plen, rep);
	if (err == WIRE_EOF) {
		say("the daemon closed the link without replying to %s", t);
		return -1;
	}
	if (err == WIRE_IO && (errno == EAGAIN || errno == ETIMEDOUT)) {
		say("the daemon did not answer %s within %ld ms (WARM_TIMEOUT_MS)", t, deadline_limit_ms());
		return -1;
	}
	if (err == WIRE_IO) {
		say("reading the daemon's reply: %s", strerror(errno));
		return -1;
	}
	if (err != WIRE_OK) {
		say("bad reply from the daemon: %s%s%s", wire_err_name(err),
		    err == WIRE_BAD_MESSAGE ? ": " : "",
		    err == WIRE_BAD_MESSAGE ? rep->bad : "");
		return -1;
	}
	if (rep->type == REPLY_ERROR) {
		say("%.*s", rep->why.len, rep->why.s);
		return -1;
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int client_status(int json)
{
	struct frame_reader rd;
	struct reply rep;
	int fd = connect_running(), rc = 1;

	if (fd == -1)
		say("no daemon running");
	if (fd < 0)
		return 1;
	frame_reader_init(&rd, fd);
	if (ask(fd, "status", 0, &rd, &rep) == 0) {
		if (rep.type != REPLY_STATUS) {
			say("unexpected reply to status");
		} else if (json) {
			if (write_all(1, rep.json.s, (size_t)rep.json.len) == 0
			    && write_all(1, "\n", 1) == 0)
				rc = 0;
		} else if (write_all(1, rep.text.s, (size_t)rep.text.len) == 0) {
			rc = 0;
		}
	}
	frame_reader_free(&rd);
	close(fd);
	return rc;
}

int client_stop(int now)
{
	struct frame_reader rd;
	struct reply rep;
	struct pollfd pfd;
	char c;
	int fd = connect_running(), rc = 1;

	if (fd == -1) {
		say("no daemon running");
		return 0;
	}
	if (fd < 0)
		return 1;
	frame_reader_init(&rd, fd);
	if (ask(fd, "stop", now, &rd, &rep) == 0) {
		if (rep.type != REPLY_OK) {
			say("unexpected reply to stop");
		} else {
			rc = 0;
			/* Wait (a little) for the daemon to close the link: it
			 * has given up its socket by then, so a run right after
			 * `warm stop` meets a new daemon rather than this one. */
			pfd.fd = fd;
			pfd.events = POLLIN;
			while (poll(&pfd, 1, STOP_WAIT_MS) > 0 && read(fd, &c, 1) > 0)
				;
			TRACE("daemon stopped");
		}
	}
	frame_reader_free(&rd);
	close(fd);
	return rc;
}
