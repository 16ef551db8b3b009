#include "deadline.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

static long long end_ms;
static long limit_ms = DEADLINE_DEFAULT_MS;

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void deadline_start(void)
{
	const char *v = getenv("WARM_TIMEOUT_MS");
	char *end;
	long n;

	if (v && *v) {
		errno = 0;
		n = strtol(v, &end, 10);
		/* A value that is not a whole number of ms keeps the default. */
		if (!*end && errno == 0 && n > 0 && n <= 24L * 3600 * 1000)
			limit_ms = n;
	}
	end_ms = now_ms() + limit_ms;
}

long deadline_left_ms(void)
{
	long long left = end_ms - now_ms();

	return left > 0 ? (long)left : 0;
}

long deadline_used_ms(void)
{
	return (long)(now_ms() - (end_ms - limit_ms));
}

long deadline_limit_ms(void)
{
	return limit_ms;
}

static int set_timeo(int fd, int opt, long ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

int deadline_bound(int fd, int opt)
{
	long left = deadline_left_ms();

	if (left <= 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	return set_timeo(fd, opt, left);
}

void deadline_lift(int fd, long every_ms)
{
	set_timeo(fd, SO_RCVTIMEO, every_ms);
}
