/* The bound on every wait before a tool has started: connecting, the spawn
 * lock, the daemon's start-up, sending the request and the first reply.
 * Past it the shim runs the command itself (nothing has started), so a
 * stopped, spinning or swamped daemon costs a caller at most this long.
 * WARM_TIMEOUT_MS sets it (default 1500). */
#ifndef WARM_DEADLINE_H
#define WARM_DEADLINE_H

#define DEADLINE_DEFAULT_MS 1500

/* Starts the clock (reads WARM_TIMEOUT_MS). */
void deadline_start(void);

/* Milliseconds left (0 once past; never negative). */
long deadline_left_ms(void);

/* Milliseconds since deadline_start. */
long deadline_used_ms(void);

/* The configured limit itself, in ms. */
long deadline_limit_ms(void);

/* Bounds the socket's blocking send and connect (opt SO_SNDTIMEO) or its
 * receive (SO_RCVTIMEO) by what is left; 0, or -1 when nothing is left
 * (errno ETIMEDOUT). A call that runs out fails with EAGAIN. */
int deadline_bound(int fd, int opt);

/* Lifts the receive bound: once the tool has started the shim waits as
 * long as the tool runs, its reads waking every every_ms (0: never) with
 * EAGAIN, for the shim to look at the tool meanwhile. */
void deadline_lift(int fd, long every_ms);

#endif
