/* Signals while a tool runs in a warm process: the terminal signals the
 * shim's process group, so the shim passes them on to the tool. */
#ifndef WARM_SIGNALS_H
#define WARM_SIGNALS_H

#include <sys/types.h>

/* From just before the request is sent: hold the signals that will be
 * forwarded, so none kills the shim while the tool is being started. */
void signals_hold(void);

/* Nothing started (the command runs directly): default handlers back, and
 * any held signal is raised on the shim, as it would have hit the command. */
void signals_release(void);

/* Installs the forwarding handlers for a tool with this pid and pgid, and
 * passes on the signals held meanwhile. */
void signals_forward(pid_t pid, pid_t pgid);

/* If the tool has stopped (by itself: readline's ^Z at a prompt, a SIGTSTP
 * handler re-raising it; or by someone's SIGSTOP), the shim stops too, as
 * the shell sees a direct run's job stop; `fg` resumes both. */
void signals_follow_stop(void);

/* Dies of sig as the tool did: default action, unblocked, raised. Returns
 * only if the signal did not end the shim. */
void signals_die(int sig);

#endif
