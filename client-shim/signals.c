#include "signals.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>

static pid_t tool_pid, tool_pgid;
static volatile sig_atomic_t got_term;

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

/* ^Z: let the tool see SIGTSTP, make sure its group stops even if the
 * kernel discards SIGTSTP (the tool's group may be orphaned in the daemon's
 * session), then stop the shim so the shell sees the job stop. */
static void on_tstp(int sig)
{
	int e = errno;

	(void)sig;
	kill(-tool_pgid, SIGTSTP);
	kill(-tool_pgid, SIGSTOP);
	raise(SIGSTOP);
	errno = e;
}

/* The shell resumed the job (fg/bg): resume the tool. */
static void on_cont(int sig)
{
	int e = errno;

	(void)sig;
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

void signals_forward(pid_t pid, pid_t pgid)
{
	tool_pid = pid;
	tool_pgid = pgid;
	forward(SIGINT, to_group);
	forward(SIGQUIT, to_group);
	forward(SIGHUP, to_group);
	forward(SIGWINCH, to_group);
	forward(SIGUSR1, to_pid);
	forward(SIGUSR2, to_pid);
	forward(SIGTERM, on_term);
	forward(SIGTSTP, on_tstp);
	set_handler(SIGCONT, on_cont); /* continuing happens even when ignored */
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
