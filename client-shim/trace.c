#include "trace.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int trace_on;
static struct timespec t0;

int env_flag(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

void trace_init(void)
{
	trace_on = env_flag("WARM_DEBUG");
	if (trace_on)
		clock_gettime(CLOCK_MONOTONIC, &t0);
}

/* Formats prefix + message + "\n" and writes it in one call, so lines of
 * concurrent shims do not interleave. Long messages are cut. */
static void emit(const char *prefix, const char *fmt, va_list ap)
{
	char line[2048];
	int n, m;
	int saved = errno;

	n = snprintf(line, sizeof(line), "%s", prefix);
	if (n < 0 || n >= (int)sizeof(line) - 1)
		n = 0;
	m = vsnprintf(line + n, sizeof(line) - 1 - n, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(2, line, (size_t)n) < 0) {
		/* nothing useful to do when stderr is gone */
	}
	errno = saved;
}

void trace(const char *fmt, ...)
{
	struct timespec t;
	char prefix[64];
	long long ns;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &t);
	ns = (long long)(t.tv_sec - t0.tv_sec) * 1000000000LL + (t.tv_nsec - t0.tv_nsec);
	snprintf(prefix, sizeof(prefix), "warm[%ld] +%lld.%03lldms ",
		 (long)getpid(), ns / 1000000, (ns / 1000) % 1000);
	va_start(ap, fmt);
	emit(prefix, fmt, ap);
	va_end(ap);
}

void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("warm: ", fmt, ap);
	va_end(ap);
}
