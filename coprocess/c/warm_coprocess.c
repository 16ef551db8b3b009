/* The coprocess side of protocol-spec/coprocess.md in C99 + POSIX: frames
 * (4-byte big-endian length + a JSON object), a small strict JSON reader for
 * the few messages a coprocess gets, base64, and the fork and serial loops. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "warm_coprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WC_MAX_FRAME (16u * 1024 * 1024)
#define WC_MAX_FDS 8

extern char **environ;

struct wc_bytes {
	char *data; /* NUL-terminated for convenience; len excludes it */
	size_t len;
};

struct wc_msg {
	char t[16];
	long long pid, umask, code;
	int has_pid, has_umask, tell;
	struct wc_bytes *argv, *env, cwd;
	size_t argc, envc;
	int has_argv, has_env, has_cwd;
};

/* ---- frames ---- */

/* Reads exactly n bytes; fds that come with them are stored (up to max) or closed. 0 ok, 1 EOF at start, -1 error. */
static int wc_read(int fd, unsigned char *buf, size_t n, int *fds, int *nfds, int max)
{
	size_t got = 0;

	while (got < n) {
		char cbuf[CMSG_SPACE(sizeof(int) * WC_MAX_FDS)];
		struct iovec iov = { buf + got, n - got };
		struct msghdr mh;
		struct cmsghdr *c;
		ssize_t r;

		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			int k, count;

			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (k = 0; k < count; k++) {
				int one;

				memcpy(&one, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
				if (fds && *nfds < max)
					fds[(*nfds)++] = one;
				else
					close(one);
			}
		}
		if (r == 0)
			return got == 0 ? 1 : -1;
		got += (size_t)r;
	}
	return 0;
}

/* One frame's JSON text (malloc'd, NUL-terminated) and its fds. 0 ok, 1 EOF, -1 broken. */
static int wc_recv_frame(int fd, char **text, size_t *len, int *fds, int *nfds)
{
	unsigned char head[4];
	uint32_t n;
	int r;

	*nfds = 0;
	r = wc_read(fd, head, 4, fds, nfds, WC_MAX_FDS);
	if (r != 0)
		return r;
	n = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
	if (n < 1 || n > WC_MAX_FRAME)
		return -1;
	*text = malloc(n + 1);
	if (!*text)
		return -1;
	if (wc_read(fd, (unsigned char *)*text, n, NULL, NULL, 0) != 0) {
		free(*text);
		return -1;
	}
	(*text)[n] = '\0';
	*len = n;
	return 0;
}

static int wc_send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int wc_send_json(int fd, const char *json)
{
	size_t n = strlen(json);
	unsigned char head[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n };

	return wc_send_all(fd, (const char *)head, 4) || wc_send_all(fd, json, n) ? -1 : 0;
}

/* ---- JSON (only what the messages use; anything else is skipped or refused) ---- */

struct wc_json {
	const char *p, *end;
	int depth;
};

static void wc_ws(struct wc_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int wc_b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Strict base64 (standard alphabet, padding) of s[0..n) into out (malloc'd). */
static int wc_base64(const char *s, size_t n, struct wc_bytes *out)
{
	size_t i, o = 0;

	if (n % 4)
		return -1;
	out->data = malloc(n / 4 * 3 + 1);
	if (!out->data)
		return -1;
	for (i = 0; i < n; i += 4) {
		int a = wc_b64val(s[i]), b = wc_b64val(s[i + 1]), c = wc_b64val(s[i + 2]), d = wc_b64val(s[i + 3]);
		int last = i + 4 == n;

		if (a < 0 || b < 0 || (c < 0 && !(last && s[i + 2] == '=' && s[i + 3] == '='))
		    || (d < 0 && !(last && s[i + 3] == '='))) {
			free(out->data);
			return -1;
		}
		out->data[o++] = (char)(a << 2 | b >> 4);
		if (c >= 0)
			out->data[o++] = (char)((b & 15) << 4 | c >> 2);
		if (d >= 0)
			out->data[o++] = (char)((c & 3) << 6 | d);
	}
	out->data[o] = '\0';
	out->len = o;
	return 0;
}

/* A JSON string into out (UTF-8, escapes decoded). */
static int wc_string(struct wc_json *j, char *out, size_t cap, size_t *len)
{
	size_t n = 0;

	if (j->p >= j->end || *j->p != '"')
		return -1;
	j->p++;
	while (j->p < j->end && *j->p != '"') {
		unsigned cp = (unsigned char)*j->p++;

		if (cp < 0x20)
			return -1;
		if (cp == '\\') {
			char e;

			if (j->p >= j->end)
				return -1;
			e = *j->p++;
			if (e == 'u') {
				int k;

				if (j->end - j->p < 4)
					return -1;
				cp = 0;
				for (k = 0; k < 4; k++) {
					char h = *j->p++;

					cp = cp * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 99);
					if (cp > 0xffff)
						return -1;
				}
				/* \uXXXX is never in a message a coprocess needs: kept as one byte if small, else refused */
				if (cp > 0x7f)
					return -1;
			} else {
				const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t", *at = strchr(from, e);

				if (!at || !e)
					return -1;
				cp = (unsigned char)to[at - from];
			}
		}
		if (out) {
			if (n + 1 >= cap)
				return -1;
			out[n] = (char)cp;
		}
		n++;
	}
	if (j->p >= j->end)
		return -1;
	j->p++;
	if (out)
		out[n] = '\0';
	if (len)
		*len = n;
	return 0;
}

static int wc_skip(struct wc_json *j);

static int wc_skip_seq(struct wc_json *j, char close, int keyed)
{
	j->p++;
	wc_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	for (;;) {
		if (keyed) {
			if (wc_string(j, NULL, 0, NULL))
				return -1;
			wc_ws(j);
			if (j->p >= j->end || *j->p++ != ':')
				return -1;
		}
		if (wc_skip(j))
			return -1;
		wc_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			wc_ws(j);
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return 0;
		}
		return -1;
	}
}

static int wc_skip(struct wc_json *j)
{
	static const char *const words[] = { "true", "false", "null" };
	size_t k;
	int r;

	wc_ws(j);
	if (j->p >= j->end)
		return -1;
	if (*j->p == '"')
		return wc_string(j, NULL, 0, NULL);
	if (*j->p == '{' || *j->p == '[') {
		if (++j->depth > 32)
			return -1;
		r = wc_skip_seq(j, *j->p == '{' ? '}' : ']', *j->p == '{');
		j->depth--;
		return r;
	}
	for (k = 0; k < 3; k++)
		if ((size_t)(j->end - j->p) >= strlen(words[k]) && !strncmp(j->p, words[k], strlen(words[k]))) {
			j->p += strlen(words[k]);
			return 0;
		}
	if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
		char *e;

		strtod(j->p, &e);
		if (e == j->p)
			return -1;
		j->p = e;
		return 0;
	}
	return -1;
}

static int wc_int(struct wc_json *j, long long *v)
{
	char *e;

	errno = 0;
	*v = strtoll(j->p, &e, 10);
	if (e == j->p || errno || (e < j->end && (*e == '.' || *e == 'e' || *e == 'E')))
		return -1;
	j->p = e;
	return 0;
}

/* A JSON string holding base64, decoded. */
static int wc_b64string(struct wc_json *j, struct wc_bytes *out)
{
	const char *start;

	wc_ws(j);
	if (j->p >= j->end || *j->p != '"')
		return -1;
	start = ++j->p;
	while (j->p < j->end && *j->p != '"' && *j->p != '\\')
		j->p++;
	if (j->p >= j->end || *j->p != '"')
		return -1;
	j->p++;
	return wc_base64(start, (size_t)(j->p - 1 - start), out);
}

static int wc_b64array(struct wc_json *j, struct wc_bytes **items, size_t *count)
{
	size_t cap = 0;

	wc_ws(j);
	if (j->p >= j->end || *j->p != '[')
		return -1;
	j->p++;
	wc_ws(j);
	*items = NULL;
	*count = 0;
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return 0;
	}
	for (;;) {
		if (*count == cap) {
			struct wc_bytes *more = realloc(*items, sizeof(**items) * (cap = cap ? cap * 2 : 16));

			if (!more)
				return -1;
			*items = more;
		}
		if (wc_b64string(j, &(*items)[*count]))
			return -1;
		(*count)++;
		wc_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			return 0;
		}
		return -1;
	}
}

static void wc_msg_free(struct wc_msg *m)
{
	size_t i;

	for (i = 0; i < m->argc; i++)
		free(m->argv[i].data);
	for (i = 0; i < m->envc; i++)
		free(m->env[i].data);
	free(m->argv);
	free(m->env);
	free(m->cwd.data);
	memset(m, 0, sizeof(*m));
}

/* Parses one message; a `run` must have every field right. 0 ok, -1 refused. */
static int wc_parse(const char *text, size_t len, struct wc_msg *m)
{
	struct wc_json j = { text, text + len, 0 };
	char key[32];

	memset(m, 0, sizeof(*m));
	wc_ws(&j);
	if (j.p >= j.end || *j.p != '{')
		return -1;
	j.p++;
	wc_ws(&j);
	if (j.p < j.end && *j.p == '}')
		j.p++;
	else
		for (;;) {
			int r = 0;

			wc_ws(&j);
			if (wc_string(&j, key, sizeof(key), NULL)) {
				/* a long key is no key of ours: skip it */
				key[0] = '\0';
			}
			wc_ws(&j);
			if (j.p >= j.end || *j.p++ != ':')
				goto bad;
			wc_ws(&j);
			if (!strcmp(key, "t"))
				r = wc_string(&j, m->t, sizeof(m->t), NULL);
			else if (!strcmp(key, "pid"))
				r = wc_int(&j, &m->pid), m->has_pid = !r;
			else if (!strcmp(key, "tell") && j.end - j.p >= 4 && !strncmp(j.p, "true", 4))
				j.p += 4, m->tell = 1;
			else if (!strcmp(key, "umask"))
				r = wc_int(&j, &m->umask), m->has_umask = !r;
			else if (!strcmp(key, "argv") && !m->has_argv)
				r = wc_b64array(&j, &m->argv, &m->argc), m->has_argv = 1;
			else if (!strcmp(key, "env") && !m->has_env)
				r = wc_b64array(&j, &m->env, &m->envc), m->has_env = 1;
			else if (!strcmp(key, "cwd") && !m->has_cwd)
				r = wc_b64string(&j, &m->cwd), m->has_cwd = !r;
			else
				r = wc_skip(&j);
			if (r)
				goto bad;
			wc_ws(&j);
			if (j.p < j.end && *j.p == ',') {
				j.p++;
				continue;
			}
			if (j.p < j.end && *j.p == '}') {
				j.p++;
				break;
			}
			goto bad;
		}
	wc_ws(&j);
	if (j.p != j.end)
		goto bad;
	if (!strcmp(m->t, "run") && !(m->has_argv && m->has_env && m->has_cwd && m->has_umask))
		goto bad;
	return 0;
bad:
	wc_msg_free(m);
	return -1;
}

/* ---- frames to the shim (msgpack, in the fixed bytes of "Frames to the shim") ---- */

enum wc_shim { WC_STARTED, WC_EXIT_CODE, WC_EXIT_SIGNAL };

/* The frame into out (at least 34 bytes); its length. */
static size_t wc_shim_frame(unsigned char *out, enum wc_shim kind, unsigned long v)
{
	static const char started[] = "\x83\xa1t\xa7started\xa3pid", pgid[] = "\xa4pgid";
	static const char code[] = "\x82\xa1t\xa4" "exit\xa4" "code", sig[] = "\x82\xa1t\xa4" "exit\xa6signal";
	size_t n = 4;
	int k, r;

	if (kind == WC_STARTED) {
		for (r = 0; r < 2; r++) {
			memcpy(out + n, r ? pgid : started, r ? sizeof(pgid) - 1 : sizeof(started) - 1);
			n += r ? sizeof(pgid) - 1 : sizeof(started) - 1;
			out[n++] = 0xce;
			for (k = 3; k >= 0; k--)
				out[n++] = (unsigned char)(v >> (8 * k));
		}
	} else {
		const char *head = kind == WC_EXIT_CODE ? code : sig;
		size_t len = kind == WC_EXIT_CODE ? sizeof(code) - 1 : sizeof(sig) - 1;

		memcpy(out + n, head, len);
		n += len;
		out[n++] = 0xcc;
		out[n++] = (unsigned char)v;
	}
	for (k = 0; k < 4; k++)
		out[k] = (unsigned char)((n - 4) >> (8 * (3 - k)));
	return n;
}

static int wc_tell_shim(int client, enum wc_shim kind, unsigned long v)
{
	unsigned char frame[40];

	return wc_send_all(client, (const char *)frame, wc_shim_frame(frame, kind, v));
}

/* ---- the loops ---- */

/* `taken` to the daemon, then `started` to the shim: 0 when the tool may start. */
static int wc_started(int run_link, int client)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "{\"t\":\"taken\",\"pid\":%ld}", (long)getpid());
	if (wc_send_json(run_link, buf) < 0)
		return -1;
	return wc_tell_shim(client, WC_STARTED, (unsigned long)getpid());
}

/* Takes on the caller: fds 0-2, cwd, umask, environ; argv built from the run. */
static int wc_take(struct wc_msg *m, const int *fds, char ***argv)
{
	char **env;
	size_t i;
	int k;

	for (k = 0; k < 3; k++) {
		if (dup2(fds[k], k) < 0)
			return -1;
		close(fds[k]);
	}
	if (chdir(m->cwd.data) < 0)
		return -1;
	umask((mode_t)m->umask);
	env = calloc(m->envc + 1, sizeof(char *));
	*argv = calloc(m->argc + 1, sizeof(char *));
	if (!env || !*argv)
		return -1;
	for (i = 0; i < m->envc; i++)
		env[i] = strdup(m->env[i].data);
	for (i = 0; i < m->argc; i++)
		(*argv)[i] = strdup(m->argv[i].data);
	environ = env;
	return 0;
}

/* The run is over: `exit` to the daemon, then to the shim (a caller that
 * goes before the daemon has it went mid-run, and its runner is killed). */
static void wc_report_exit(int run_link, int client, int code)
{
	char buf[48];

	snprintf(buf, sizeof(buf), "{\"t\":\"exit\",\"code\":%d}", code & 0xff);
	wc_send_json(run_link, buf);
	wc_tell_shim(client, WC_EXIT_CODE, (unsigned long)(code & 0xff));
	close(client);
}

/* Fork mode: the client links of children not reaped yet (the coprocess tells their shims how they ended). */
struct wc_kids {
	pid_t *pid;
	int *client;
	size_t n, cap;
};

static void wc_child(int link, struct wc_kids *kids, struct wc_msg *m, int *fds, warm_main_fn fn, void *ctx)
{
	char **argv;
	int code, client = fds[3], run_link = fds[4];
	size_t i;

	close(link);
	for (i = 0; i < kids->n; i++)
		close(kids->client[i]); /* other runs' callers are none of this run's business */
	setsid();
	if (wc_take(m, fds, &argv) < 0)
		_exit(255); /* the run link closes before taken: the caller runs directly */
	if (wc_started(run_link, client) < 0)
		_exit(0); /* the shim ran the command itself: nothing may run */
	code = fn((int)m->argc, argv, ctx);
	fflush(NULL);
	close(0);
	close(1);
	close(2);
	wc_report_exit(run_link, client, code);
	_exit(code & 0xff);
}

/* Reaps child pid; tells its shim how it ended when asked (tell), closes its client link; the status as JSON keys. */
static void wc_reap(struct wc_kids *kids, pid_t pid, int tell, char *keys, size_t cap)
{
	int st, client = -1;
	pid_t got;
	size_t i;

	for (i = 0; i < kids->n; i++)
		if (kids->pid[i] == pid) {
			client = kids->client[i];
			kids->pid[i] = kids->pid[--kids->n];
			kids->client[i] = kids->client[kids->n];
			break;
		}
	while ((got = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (got < 0)
		snprintf(keys, cap, "\"code\":255");
	else if (WIFSIGNALED(st))
		snprintf(keys, cap, "\"signal\":%d", WTERMSIG(st));
	else
		snprintf(keys, cap, "\"code\":%d", WEXITSTATUS(st));
	if (client >= 0) {
		if (tell && got >= 0)
			wc_tell_shim(client, WIFSIGNALED(st) ? WC_EXIT_SIGNAL : WC_EXIT_CODE, WIFSIGNALED(st) ? (unsigned long)WTERMSIG(st) : (unsigned long)WEXITSTATUS(st));
		close(client);
	}
}

static void wc_serial(struct wc_msg *m, int *fds, warm_main_fn fn, void *ctx)
{
	char **argv = NULL, **own_env = environ, *cwd = getcwd(NULL, 0);
	int saved[3], k, code = -1, started = 0, client = fds[3], run_link = fds[4];
	mode_t mask = umask(0);

	umask(mask);
	/* a run starts with stdin as fresh as a new process's: no EOF flag, no input read ahead */
	clearerr(stdin);
	__fpurge(stdin);
	for (k = 0; k < 3; k++)
		saved[k] = fcntl(k, F_DUPFD_CLOEXEC, 3);
	if (wc_take(m, fds, &argv) == 0) {
		started = wc_started(run_link, client) == 0;
		if (started)
			code = fn((int)m->argc, argv, ctx);
	}
	fflush(NULL);
	for (k = 0; k < 3; k++) {
		dup2(saved[k], k);
		close(saved[k]);
	}
	environ = own_env;
	umask(mask);
	if (cwd && chdir(cwd) < 0)
		code = code < 0 ? code : 255;
	free(cwd);
	if (!started)
		exit(0); /* taken and not started: the shim ran the command itself; the daemon starts another coprocess */
	wc_report_exit(run_link, client, code);
	close(run_link);
}

int warm_coprocess_serve(warm_main_fn fn, void *ctx, const struct warm_coprocess_options *opt)
{
	const char *fdvar = getenv("WARM_COPROCESS_FD"), *mode = opt && opt->mode ? opt->mode : "fork";
	int serial = !strcmp(mode, "serial"), link, k;
	size_t cap = 256, n;
	char *hello;
	struct wc_kids kids = { NULL, NULL, 0, 0 };

	if (!fdvar)
		return 0;
	link = atoi(fdvar);
	unsetenv("WARM_COPROCESS_FD");
	fcntl(link, F_SETFD, FD_CLOEXEC);
	hello = malloc(cap);
	n = (size_t)snprintf(hello, cap, "{\"t\":\"hello\",\"v\":2,\"mode\":\"%s\",\"pid\":%ld,\"watch\":[", serial ? "serial" : "fork", (long)getpid());
	for (k = 0; k < 2; k++) {
		const char *const *list = k == 0 ? (opt ? opt->watch : NULL) : (opt ? opt->env : NULL);

		for (; list && *list; list++) {
			/* paths and names are written as JSON strings: escape what JSON requires */
			const char *s;

			if (n + strlen(*list) * 6 + 16 > cap && !(hello = realloc(hello, cap = (n + strlen(*list) * 6 + 16) * 2)))
				exit(255);
			n += (size_t)sprintf(hello + n, "%s\"", hello[n - 1] == '[' ? "" : ",");
			for (s = *list; *s; s++)
				n += (size_t)((unsigned char)*s < 0x20 || *s == '"' || *s == '\\' ? sprintf(hello + n, "\\u%04x", (unsigned char)*s) : sprintf(hello + n, "%c", *s));
			n += (size_t)sprintf(hello + n, "\"");
		}
		n += (size_t)sprintf(hello + n, k == 0 ? "],\"env\":[" : "]}");
	}
	fflush(NULL);
	if (wc_send_json(link, hello) < 0)
		exit(255);
	free(hello);
	for (;;) {
		char *text;
		size_t len;
		int fds[WC_MAX_FDS], nfds, r;
		struct wc_msg m;

		r = wc_recv_frame(link, &text, &len, fds, &nfds);
		if (r != 0) {
			/* The daemon is gone (or let this coprocess go): each child still
			 * running finishes, and its shim hears how it ended. */
			char keys[48];

			while (kids.n > 0)
				wc_reap(&kids, kids.pid[0], 1, keys, sizeof(keys));
			exit(r == 1 ? 0 : 255);
		}
		r = wc_parse(text, len, &m);
		free(text);
		if (r == 0 && !strcmp(m.t, "run") && nfds == 5) {
			if (serial) {
				wc_serial(&m, fds, fn, ctx);
			} else {
				pid_t pid;

				if (kids.n == kids.cap) {
					kids.cap = kids.cap ? kids.cap * 2 : 16;
					kids.pid = realloc(kids.pid, kids.cap * sizeof(*kids.pid));
					kids.client = realloc(kids.client, kids.cap * sizeof(*kids.client));
					if (!kids.pid || !kids.client)
						exit(255);
				}
				fflush(NULL);
				pid = fork();
				if (pid == 0)
					wc_child(link, &kids, &m, fds, fn, ctx);
				for (k = 0; k < 5; k++)
					if (k != 3 || pid < 0)
						close(fds[k]);
				if (pid > 0) {
					kids.pid[kids.n] = pid;
					kids.client[kids.n++] = fds[3];
				}
			}
		} else if (r == 0 && !strcmp(m.t, "wait") && m.has_pid) {
			char buf[96], keys[48];

			wc_reap(&kids, (pid_t)m.pid, m.tell, keys, sizeof(keys));
			snprintf(buf, sizeof(buf), "{\"t\":\"exit\",\"pid\":%lld,%s}", m.pid, keys);
			if (wc_send_json(link, buf) < 0)
				exit(0); /* the daemon closed the link: shutdown */
		} else {
			for (k = 0; k < nfds; k++)
				close(fds[k]);
		}
		if (r == 0)
			wc_msg_free(&m);
	}
}
