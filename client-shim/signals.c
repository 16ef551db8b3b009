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

/* The state letter of a process in /proc/<pid>/stat ('R', 'S', 'T', ...);
 * 0 if it cannot be read (gone). Signal-safe: no stdio, no malloc. */
static char proc_state(pid_t pid)
{
	char path[32] = "/proc/", digits[12], buf[512], *close_paren = NULL;
	int fd, i = 0, n = 0;
	ssize_t r;

	do
		digits[i++] = (char)('0' + pid % 10);
	while ((pid /= 10) > 0);
	n = 6;
	while (i > 0)
		path[n++] = digits[--i];
	memcpy(path + n, "/stat", 6);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = read(fd, buf, sizeof(buf));
	close(fd);
	/* The state follows the command name, which is in parentheses and may hold any byte. */
	for (i = 0; i < r; i++)
		if (buf[i] == ')')
			close_paren = buf + i;
	if (!close_paren || close_paren + 2 >= buf + r)
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

/* ^Z: let the tool see SIGTSTP, make sure its group stops even if the
 * kernel discards SIGTSTP (the tool's group may be orphaned in the daemon's
 * session), wait for the tool to have stopped, then stop the shim by
 * SIGTSTP's own default action, so the shell sees the job stopped by
 * SIGTSTP ("Stopped"), as a direct run's would be, not by SIGSTOP
 * ("Stopped (signal)"). */
static void on_tstp(int sig)
{
	int e = errno;
	sig_atomic_t before = continued;
	sigset_t set;

	kill(-tool_pgid, SIGTSTP);
	kill(-tool_pgid, SIGSTOP);
	until_stopped();
	set_handler(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	sigprocmask(SIG_BLOCK, &set, NULL);
	set_handler(sig, on_tstp);
	/* The kernel discards a terminal stop in an orphaned process group: a
	 * tool run directly there would not have stopped, so neither does it. */
	if (continued == before)
		kill(-tool_pgid, SIGCONT);
	errno = e;
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
