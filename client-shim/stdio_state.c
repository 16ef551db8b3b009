#include "stdio_state.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

void stdio_state_save(struct stdio_state *s)
{
	int fd;

	for (fd = 0; fd < 3; fd++) {
		s->flags[fd] = fcntl(fd, F_GETFL);
		s->is_tty[fd] = tcgetattr(fd, &s->tio[fd]) == 0;
	}
}

void stdio_state_restore(const struct stdio_state *s)
{
	sigset_t ttou, old;
	int fd;

	/* tcsetattr from a background job raises SIGTTOU; Node blocks it too. */
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	for (fd = 0; fd < 3; fd++) {
		if (s->is_tty[fd]) {
			while (tcsetattr(fd, TCSANOW, &s->tio[fd]) < 0 && errno == EINTR)
				;
		}
		if (s->flags[fd] >= 0)
			fcntl(fd, F_SETFL, s->flags[fd]);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}
