/* Talking to the daemon: one request, then its replies. */
#ifndef WARM_CLIENT_H
#define WARM_CLIENT_H

/* Hands the command to the daemon and, once the tool has started there,
 * never returns (exits with the tool's status). Returns when the command
 * should be run directly instead (nothing has started). */
void client_run(const char *version, const char *exe, char **argv);

/* `warm status [--json]` and `warm stop [--now]`: exit statuses. */
int client_status(int json);
int client_stop(int now);

#endif
