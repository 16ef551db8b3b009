/* warm_coprocess: make a C (or C++, or Rust-via-FFI) tool a warm coprocess
 * (protocol-spec/coprocess.md). One .c and this header, libc only.
 *
 *     int tool_main(int argc, char **argv, void *ctx) { ... return status; }
 *     int main(int argc, char **argv) {
 *         slow_setup();
 *         warm_coprocess_serve(tool_main, NULL, NULL);  // returns only if not started by warm
 *         return tool_main(argc, argv, NULL);
 *     }
 *
 * Started without WARM_COPROCESS_FD, warm_coprocess_serve returns at once.
 * Started by the warm daemon, it says hello and serves invocations until the
 * daemon closes the link, then exits. In fork mode (the default) each run is
 * a forked child: fresh state, the caller's fds 0-2, cwd, umask, environ and
 * argv; the child ends with tool_main's status (exit() from inside the tool
 * works too). */
#ifndef WARM_COPROCESS_H
#define WARM_COPROCESS_H

typedef int (*warm_main_fn)(int argc, char **argv, void *ctx);

struct warm_coprocess_options {
	const char *mode;          /* "fork" (default) or "serial" */
	const char *const *watch;  /* NULL-terminated absolute paths whose change restarts it, or NULL */
	const char *const *env;    /* NULL-terminated env names its start-up read, or NULL */
};

/* Returns 0 when this process is not a coprocess; otherwise never returns. */
int warm_coprocess_serve(warm_main_fn fn, void *ctx, const struct warm_coprocess_options *opt);

#endif
