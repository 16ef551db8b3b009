/* Declarations the addon's files share (warm_native.c lists the files). */
#ifndef WARM_ADDON_H
#define WARM_ADDON_H

#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>

#include <node_api.h>

#define NAPI_OK(env, fn, call)                                                 \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      throw_napi_failure((env), (fn));                                         \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

void throw_napi_failure(napi_env env, const char *fn);
void throw_errno(napi_env env, const char *fn, const char *syscall,
                 const char *detail, int err);
bool get_args(napi_env env, napi_callback_info info, size_t n,
              napi_value *argv, napi_value *self);
bool arg_int(napi_env env, const char *fn, const char *what, napi_value v,
             int64_t min, int64_t max, int64_t *out);
bool arg_fd(napi_env env, const char *fn, const char *what, napi_value v,
            int *out);
napi_value make_int(napi_env env, int64_t x);
napi_value make_null(napi_env env);
napi_value make_undefined(napi_env env);
bool arg_buffer(napi_env env, const char *fn, const char *what, napi_value v,
                char **data, size_t *len);
bool arg_fds(napi_env env, const char *fn, napi_value v, int *fds, size_t *nfds);
int wait_for(int fd, short events);
bool set_int_prop(napi_env env, napi_value obj, const char *key, int64_t x);

/* SCM_MAX_FD in the kernel: the most fds one sendmsg may carry. */
#define MAX_FDS 253

/* napi.c, more helpers: a TypeError "fn: what must be must"; a boolean
 * argument; a string argument as a malloc'd path (non-empty, no NUL); an
 * array of ints; closing a list of fds. */
void throw_arg(napi_env env, const char *fn, const char *what, const char *must);
bool arg_bool(napi_env env, const char *fn, const char *what, napi_value v,
              bool *out);
char *arg_path(napi_env env, const char *fn, const char *what, napi_value v,
               size_t *len_out);
napi_value make_int_array(napi_env env, const int *xs, size_t n);
void close_all(const int *fds, size_t n);

/* The most bytes one recv or read takes (its size argument is an int). */
#define MAX_IO INT_MAX

/* exit.c: adds exitNow and exitAfterFatal to exports. */
bool exit_define(napi_env env, napi_value exports);

/* fork.c: adds forkBaseline, forkChild, forkWait, resetStartTime, getppid to exports. */
bool fork_define(napi_env env, napi_value exports);

/* pages.c: adds prefault, reportTouchedAtExit to exports; the `touched`
 * frame an exit sends after `closed` when asked (malloc'd; NULL if not). */
bool pages_define(napi_env env, napi_value exports);

/* flag_hash.c: adds adoptFlagHash, restampFlagHash to exports. */
bool flag_hash_define(napi_env env, napi_value exports);
char *pages_touched_frame(size_t *len);

/* fdpass.c: Unix sockets and fd passing. */
napi_value js_recv(napi_env env, napi_callback_info info);
napi_value js_recv_blocking(napi_env env, napi_callback_info info);
napi_value js_send(napi_env env, napi_callback_info info);
napi_value js_send_all(napi_env env, napi_callback_info info);
napi_value js_listen_unix(napi_env env, napi_callback_info info);
napi_value js_accept(napi_env env, napi_callback_info info);

/* watcher.c: watch(), and watcher_init, which Init calls first (the Watcher
 * class is kept as the env's instance data). */
napi_value js_watch(napi_env env, napi_callback_info info);
bool watcher_init(napi_env env);

/* fds.c: fds and file locks. */
napi_value js_close(napi_env env, napi_callback_info info);
napi_value js_socketpair(napi_env env, napi_callback_info info);
napi_value js_pipe(napi_env env, napi_callback_info info);
napi_value js_set_cloexec(napi_env env, napi_callback_info info);
napi_value js_set_nonblocking(napi_env env, napi_callback_info info);
napi_value js_dup(napi_env env, napi_callback_info info);
napi_value js_dup2(napi_env env, napi_callback_info info);
napi_value js_fd_kind(napi_env env, napi_callback_info info);
napi_value js_read_nonblocking(napi_env env, napi_callback_info info);
napi_value js_lock_file(napi_env env, napi_callback_info info);

/* pty.c: pseudo-terminals. */
napi_value js_openpty(napi_env env, napi_callback_info info);
napi_value js_set_winsize(napi_env env, napi_callback_info info);

/* take_request.c: a warm process takes on a caller's request. */
napi_value js_take_request(napi_env env, napi_callback_info info);
napi_value js_chdir(napi_env env, napi_callback_info info);

/* inotify.c: the daemon's staleness check. */
napi_value js_inotify_init(napi_env env, napi_callback_info info);
napi_value js_pidfd_open(napi_env env, napi_callback_info info);
napi_value js_inotify_add(napi_env env, napi_callback_info info);
napi_value js_inotify_remove(napi_env env, napi_callback_info info);
napi_value js_inotify_read(napi_env env, napi_callback_info info);

/* rlimits.c: the daemon's resource limits. */
napi_value js_getrlimits(napi_env env, napi_callback_info info);

/* lifetime.c: a warm process's lifetime. */
napi_value js_is_main_thread(napi_env env, napi_callback_info info);
napi_value js_run_loop_once(napi_env env, napi_callback_info info);
napi_value js_set_parent_death_signal(napi_env env, napi_callback_info info);
napi_value js_own_process_group(napi_env env, napi_callback_info info);
napi_value js_set_command_line(napi_env env, napi_callback_info info);

#endif
