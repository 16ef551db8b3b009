/* Running the command without the daemon, with the messages and exit
 * statuses a shell gives. */
#ifndef WARM_DIRECT_H
#define WARM_DIRECT_H

/* execv(exe, argv) with the unchanged environment; on ENOEXEC runs
 * /bin/sh exe args... as execvp does. On failure prints
 * "warm: <argv[0]>: <error>" and exits 127 (not found) or 126. */
void direct_exec(const char *exe, char **argv) __attribute__((noreturn));

/* The PATH search failed: "command not found" (127) or, when a candidate
 * was not executable, "Permission denied" (126). */
void direct_not_found(const char *cmd, int eacces) __attribute__((noreturn));

#endif
