/* Signals while a tool runs in a warm process: the terminal signals the
 * shim's process group, so the shim passes them on to the tool. */
#ifndef WARM_SIGNALS_H
#define WARM_SIGNALS_H

#include <sys/types.h>

/* Installs the forwarding handlers for a tool with this pid and pgid. */
void signals_forward(pid_t pid, pid_t pgid);

/* Dies of sig as the tool did: default action, unblocked, raised. Returns
 * only if the signal did not end the shim. */
void signals_die(int sig);

#endif
