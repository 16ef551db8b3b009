/* WARM_DEBUG tracing, and the few user-facing "warm: ..." lines. Both
 * write one line per call with a single write(2) to stderr. */
#ifndef WARM_TRACE_H
#define WARM_TRACE_H

extern int trace_on;

/* Reads WARM_DEBUG and, when on, notes the start time. Call first. */
void trace_init(void);

/* "warm[<pid>] +<ms>ms <message>"; use through TRACE so the arguments
 * are not even evaluated when tracing is off. */
void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define TRACE(...) do { if (trace_on) trace(__VA_ARGS__); } while (0)

/* "warm: <message>" to stderr. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True when an environment flag is set to something other than "" or "0". */
int env_flag(const char *name);

#endif
