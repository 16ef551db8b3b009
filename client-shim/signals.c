#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static pid_t tool_pid, tool_pgid;
static volatile sig_atomic_t got_term;
/* Signals that came between sending the request and `started`. */
static volatile sig_atomic_t pending[NSIG];

static void set_handler(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* Terminal-generated signals go to the whole group, as the terminal would
 * have sent them to the tool's group had it run in the foreground. */
static void to_group(int sig)
{
	int e = errno;

	kill(-tool_pgid, sig);
	errno = e;
}

static void to_pid(int sig)
{
	int e = errno;

	kill(tool_pid, sig);
	errno = e;
}

/* A second SIGTERM means "really go": the shim dies of it (the signal is
 * blocked inside the handler and lands once it returns). */
static void on_term(int sig)
{
	int e = errno;

	if (got_term) {
		set_handler(sig, SIG_DFL);
		raise(sig);
	} else {
		got_term = 1;
		kill(tool_pid, sig);
	}
	errno = e;
}

static volatile sig_atomic_t continued;

/* The shell resumed the job (fg/bg): resume the tool. */
static void on_cont(int sig)
{
	int e = errno;

	(void)sig;
	continued++;
	kill(-tool_pgid, SIGCONT);
	errno = e;
}

/* Reads /proc/<pid>/<file> into buf (NUL-terminated); its length, or -1.
 * Signal-safe: no stdio, no malloc. */
static ssize_t read_proc(pid_t pid, const char *file, char *buf, size_t size)
{
	char path[64] = "/proc/", digits[12];
	int fd, i = 0, n = 6;
	ssize_t r;

	do
		digits[i++] = (char)('0' + pid % 10);
	while ((pid /= 10) > 0);
	while (i > 0)
		path[n++] = digits[--i];
	path[n++] = '/';
	for (i = 0; file[i] && n < (int)sizeof(path) - 1; i++)
		path[n++] = file[i];
	path[n] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = read(fd, buf, size - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = '\0';
	return r;
}

/* The state letter of a process in /proc/<pid>/stat ('R', 'S', 'T', ...);
 * 0 if it cannot be read (gone). Signal-safe. */
static char proc_state(pid_t pid)
{
	char buf[512], *close_paren;

	if (read_proc(pid, "stat", buf, sizeof(buf)) < 0)
		return 0;
	/* The state follows the command name, which is in parentheses and may hold any byte. */
	close_paren = strrchr(buf, ')');
	if (!close_paren || close_paren[1] != ' ' || close_paren[2] == '\0')
		return 0;
	return close_paren[2];
}

/* Waits (bounded) until the tool has stopped, died or gone. A shell reports
 * a direct run's job stopped only once its process has: a tool sent SIGSTOP
 * that has not run yet would, once it does, still take input typed after
 * the shell's "Stopped" (the terminal's read takes a line that arrived
 * before it saw the signal), and the shell, reading for the `fg` typed
 * there, would not get it. */
static void until_stopped(void)
{
	int i;
	char st;

	for (i = 0; i < 2000; i++) {
		st = proc_state(tool_pid);
		if (st == 0 || st == 'T' || st == 't' || st == 'Z' || st == 'X')
			return;
		poll(NULL, 0, 1);
	}
}

/* Whether bit sig-1 is set in the hex mask on the line starting with key
 * ("SigIgn:") of a /proc status text. */
static int mask_has(const char *status, const char *key, int sig)
{
	const char *p = strstr(status, key), *end;
	int bit = sig - 1, digit;
	char c;

	if (!p)
		return 0;
	p += strlen(key);
	while (*p == '\t' || *p == ' ')
		p++;
	for (end = p; (*end >= '0' && *end <= '9') || (*end >= 'a' && *end <= 'f'); end++)
		;
	if (end - p <= bit / 4)
		return 0;
	c = end[-1 - bit / 4];
	digit = c <= '9' ? c - '0' : c - 'a' + 10;
	return (digit >> (bit % 4)) & 1;
}

/* What the tool does with sig: 'I' ignores it, 'C' catches it, 'D' takes
 * the default action (also when it cannot be read). */
static char tool_disposition(int sig)
{
	char status[4096];

	if (read_proc(tool_pid, "status", status, sizeof(status)) < 0)
		return 'D';
	if (mask_has(status, "SigIgn:", sig))
		return 'I';
	return mask_has(status, "SigCgt:", sig) ? 'C' : 'D';
}

/* Stops the shim by SIGTSTP's default action, so the shell sees the job
 * stopped by SIGTSTP ("Stopped"), as a direct run's would be, not by
 * SIGSTOP ("Stopped (signal)"); returns once it is continued. The kernel
 * discards a terminal stop in an orphaned process group: a tool run
 * directly there would not have stopped, so the tool is resumed. */
static void stop_shim(void)
{
	sig_atomic_t before = continued;
	struct sigaction was;
	sigset_t set, mask;

	sigaction(SIGTSTP, NULL, &was);
	set_handler(SIGTSTP, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &set, &mask);
	raise(SIGTSTP);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	sigaction(SIGTSTP, &was, NULL);
	if (continued == before)
		kill(-tool_pgid, SIGCONT);
}

/* ^Z: the tool's group gets SIGTSTP, as the terminal would have sent it.
 * A tool that ignores it runs on (and so does the shim: directly, the job
 * would not stop). One that catches it runs its handler, which may stop
 * it (restoring the terminal first), or not: signals_follow_stop sees a
 * stop. One that takes the default action is stopped, for sure (SIGSTOP
 * too, should its group be orphaned), waited for, then the shim stops. */
static void on_tstp(int sig)
{
	int e = errno;
	char does = tool_disposition(SIGTSTP);

	(void)sig;
	if (does != 'I')
		kill(-tool_pgid, SIGTSTP);
	if (does == 'D') {
		kill(-tool_pgid, SIGSTOP);
		until_stopped();
		stop_shim();
	}
	errno = e;
}

void signals_follow_stop(void)
{
	if (tool_pid > 0 && proc_state(tool_pid) == 'T')
		stop_shim();
}

/* A signal our caller set to be ignored (nohup, `cmd &` in a script) stays
 * ignored: a direct run of the tool would have ignored it too. */
static void forward(int sig, void (*fn)(int))
{
	struct sigaction old;

	if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
		return;
	set_handler(sig, fn);
}

static void hold(int sig)
{
	pending[sig] = 1;
}

/* Every signal another process may send the tool that it could handle or
 * ignore: the shim's default action for one not forwarded (death) would
 * end the caller's wait while the tool runs on. */
static const int forwarded[] = { SIGINT, SIGQUIT, SIGHUP, SIGWINCH, SIGUSR1, SIGUSR2, SIGTERM, SIGTSTP, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR };
#define NFORWARDED (int)(sizeof(forwarded) / sizeof(forwarded[0]))

void signals_hold(void)
{
	int i;

	for (i = 0; i < NFORWARDED; i++)
		forward(forwarded[i], hold);
}

void signals_release(void)
{
	int i;

	for (i = 0; i < NFORWARDED; i++) {
		struct sigaction old;

		if (sigaction(forwarded[i], NULL, &old) == 0 && old.sa_handler == hold)
			set_handler(forwarded[i], SIG_DFL);
	}
	for (i = 0; i < NFORWARDED; i++)
		if (pending[forwarded[i]])
			raise(forwarded[i]);
}

void signals_forward(pid_t pid, pid_t pgid)
{
	int i;

	tool_pid = pid;
	tool_pgid = pgid;
	forward(SIGINT, to_group);
	forward(SIGQUIT, to_group);
	forward(SIGHUP, to_group);
	forward(SIGWINCH, to_group);
	forward(SIGUSR1, to_pid);
	forward(SIGUSR2, to_pid);
	forward(SIGALRM, to_pid);
	forward(SIGVTALRM, to_pid);
	forward(SIGPROF, to_pid);
	forward(SIGIO, to_pid);
	forward(SIGPWR, to_pid);
	forward(SIGTERM, on_term);
	forward(SIGTSTP, on_tstp);
	set_handler(SIGCONT, on_cont); /* continuing happens even when ignored */
	for (i = 0; i < NFORWARDED; i++) {
		int sig = forwarded[i];

		if (pending[sig]) {
			pending[sig] = 0;
			raise(sig); /* now handled by the forwarding handler */
		}
	}
}

void signals_die(int sig)
{
	struct rlimit none = { 0, 0 };
	sigset_t set;

	/* The tool's core (if any) was written where it ran; a core of the
	 * shim would only litter the caller's directory. */
	setrlimit(RLIMIT_CORE, &none);
	set_handler(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
}
