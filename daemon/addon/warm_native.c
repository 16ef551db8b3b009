// warm_native: the few syscalls Node cannot make for warm (fd passing,
// SO_PEERCRED, fcntl, dup2, ptys, the raw environment). The JS interface and
// its contract are in daemon/src/native.ts.
//
// Conventions:
// - Every fd created or received here is close-on-exec, except dup2's target.
// - A failed syscall throws an Error whose `code` is the errno name (EBADF...)
//   and whose `syscall` is the syscall; its message names the JS call too.
// - Bad arguments throw a TypeError (code ERR_INVALID_ARG_VALUE) before any
//   syscall is made.
// - EINTR is retried everywhere.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "addon.h"
#include "run_view.h"
#include "../../client-shim/msgpack.h"

#include <node_api.h>
#include <uv.h>

// ---------------------------------------------------------------------------
// Process state

// The whole environment becomes the caller's raw entries, in their order
// and with any duplicate names, as execve would have passed them: getenv
// (and so process.env) then sees the first of duplicates, as in a direct
// run. Entries with a NUL or without '=' are skipped (execve's caller could
// not have passed them either). Everything is copied before environ changes;
// the copies are leaked on purpose: a warm process takes on one request and
// exits. Not thread-safe (no setenv or getenv is): called while nothing else
// runs. 0 or ENOMEM.
static int replace_environ(const struct span *entries, uint32_t n) {
  char **list = calloc((size_t)n + 1, sizeof *list);
  if (!list) return ENOMEM;
  uint32_t kept = 0;
  for (uint32_t i = 0; i < n; i++) {
    const struct span *e = &entries[i];
    if (memchr(e->data, '\0', e->len) || !memchr(e->data, '=', e->len)) continue;
    char *s = malloc((size_t)e->len + 1);
    if (!s) {
      for (uint32_t j = 0; j < kept; j++) free(list[j]);
      free(list);
      return ENOMEM;
    }
    memcpy(s, e->data, e->len);
    s[e->len] = '\0';
    list[kept++] = s;
  }
  list[kept] = NULL;
  environ = list;
  return 0;
}

// takeRequest(payload: Buffer): { argv: string[], cwd: Buffer }
// A warm process takes on a run request (the shim's payload, as the daemon
// forwarded it): the caller's environment (raw bytes, see replace_environ)
// and umask are set here; argv comes back decoded as Node decodes its own
// (UTF-8, U+FFFD for invalid bytes), and the cwd as bytes for chdir().
// Parsed in C: decoding ~100 env entries into Buffers in the fresh process
// was a quarter of a millisecond of every warm run. A malformed payload
// throws with `code` the spec's error name; nothing is changed then.
static napi_value js_take_request(napi_env env, napi_callback_info info) {
  napi_value argv[1], result, list, str, cwd;
  char *data;
  size_t len;
  const char *bad;
  struct run_view v;
  if (!get_args(env, info, 1, argv, NULL) ||
      !arg_buffer(env, "takeRequest", "payload", argv[0], &data, &len))
    return NULL;
  int err = run_view_parse((const uint8_t *)data, len, &v, &bad);
  if (err == WIRE_IO) {
    throw_errno(env, "takeRequest", "malloc", NULL, errno);
    return NULL;
  }
  if (err != WIRE_OK) {
    char msg[128];
    snprintf(msg, sizeof msg, "takeRequest: %s%s%s", wire_err_name(err),
             bad ? " in " : "", bad ? bad : "");
    napi_throw_error(env, wire_err_name(err), msg);
    return NULL;
  }
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_array_with_length(env, v.argc, &list) != napi_ok)
    goto napi_failed;
  for (uint32_t i = 0; i < v.argc; i++) {
    if (napi_create_string_utf8(env, (const char *)v.argv[i].data, v.argv[i].len, &str) != napi_ok ||
        napi_set_element(env, list, i, str) != napi_ok)
      goto napi_failed;
  }
  if (napi_create_buffer_copy(env, v.cwd.len, v.cwd.data, NULL, &cwd) != napi_ok ||
      napi_set_named_property(env, result, "argv", list) != napi_ok ||
      napi_set_named_property(env, result, "cwd", cwd) != napi_ok)
    goto napi_failed;
  // Last, once nothing else can fail.
  err = replace_environ(v.env, v.envc);
  run_view_free(&v);
  if (err != 0) {
    throw_errno(env, "takeRequest", "malloc", NULL, err);
    return NULL;
  }
  umask((mode_t)v.umask);
  return result;

napi_failed:
  run_view_free(&v);
  throw_napi_failure(env, "takeRequest");
  return NULL;
}

// chdir(path: Buffer). Node caches process.cwd() and only forgets it in
// process.chdir(), so after a successful chdir we call process.chdir(".")
// (a no-op that drops the cache). Where that is unavailable (workers), the
// failure is ignored.
static napi_value js_chdir(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char *data;
  size_t len;
  if (!get_args(env, info, 1, argv, NULL) ||
      !arg_buffer(env, "chdir", "path", argv[0], &data, &len))
    return NULL;
  if (memchr(data, '\0', len)) {
    throw_arg(env, "chdir", "path", "free of NUL bytes");
    return NULL;
  }
  char *path = malloc(len + 1);
  if (!path) {
    throw_errno(env, "chdir", "malloc", NULL, ENOMEM);
    return NULL;
  }
  memcpy(path, data, len);
  path[len] = '\0';
  if (chdir(path) != 0) {
    throw_errno(env, "chdir", "chdir", path, errno);
    free(path);
    return NULL;
  }
  free(path);

  napi_value global, process, fn, dot, ignored;
  napi_valuetype t;
  if (napi_get_global(env, &global) == napi_ok &&
      napi_get_named_property(env, global, "process", &process) == napi_ok &&
      napi_typeof(env, process, &t) == napi_ok && t == napi_object &&
      napi_get_named_property(env, process, "chdir", &fn) == napi_ok &&
      napi_typeof(env, fn, &t) == napi_ok && t == napi_function &&
      napi_create_string_utf8(env, ".", 1, &dot) == napi_ok &&
      napi_call_function(env, process, fn, 1, &dot, &ignored) != napi_ok) {
    napi_get_and_clear_last_exception(env, &ignored);
  }
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
    napi_get_and_clear_last_exception(env, &ignored);
  return make_undefined(env);
}

// ---------------------------------------------------------------------------
// File change notification (the daemon's staleness check)

// inotifyInit() -> fd (non-blocking, close-on-exec).
static napi_value js_inotify_init(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    throw_errno(env, "inotifyInit", "inotify_init1", NULL, errno);
    return NULL;
  }
  return make_int(env, fd);
}

// inotifyAdd(fd, path, mask) -> watch descriptor.
static napi_value js_inotify_add(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  int64_t mask;
  size_t len;
  if (!get_args(env, info, 3, argv, NULL) ||
      !arg_fd(env, "inotifyAdd", "fd", argv[0], &fd))
    return NULL;
  char *path = arg_path(env, "inotifyAdd", "path", argv[1], &len);
  if (!path) return NULL;
  if (!arg_int(env, "inotifyAdd", "mask", argv[2], 1, UINT32_MAX, &mask)) {
    free(path);
    return NULL;
  }
  int wd = inotify_add_watch(fd, path, (uint32_t)mask);
  if (wd < 0) {
    throw_errno(env, "inotifyAdd", "inotify_add_watch", path, errno);
    free(path);
    return NULL;
  }
  free(path);
  return make_int(env, wd);
}

// inotifyRemove(fd, wd): errors (the watch is already gone) are ignored.
static napi_value js_inotify_remove(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  int64_t wd;
  if (!get_args(env, info, 2, argv, NULL) ||
      !arg_fd(env, "inotifyRemove", "fd", argv[0], &fd) ||
      !arg_int(env, "inotifyRemove", "wd", argv[1], 0, INT_MAX, &wd))
    return NULL;
  inotify_rm_watch(fd, (int)wd);
  return make_undefined(env);
}

// inotifyRead(fd) -> flat array [wd, mask, name, wd, mask, name, ...] of
// every queued event (name "" for events on the watched path itself), or an
// empty array when none is queued.
static napi_value js_inotify_read(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  int fd;
  if (!get_args(env, info, 1, argv, NULL) ||
      !arg_fd(env, "inotifyRead", "fd", argv[0], &fd))
    return NULL;
  NAPI_OK(env, "inotifyRead", napi_create_array(env, &out));
  uint32_t n = 0;
  char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
  for (;;) {
    ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // EAGAIN: the queue is empty
    for (char *p = buf; p < buf + got;) {
      struct inotify_event *e = (struct inotify_event *)p;
      napi_value wd, mask, name;
      NAPI_OK(env, "inotifyRead", napi_create_int32(env, e->wd, &wd));
      NAPI_OK(env, "inotifyRead", napi_create_uint32(env, e->mask, &mask));
      NAPI_OK(env, "inotifyRead",
              napi_create_string_utf8(env, e->len ? e->name : "",
                                      e->len ? strlen(e->name) : 0, &name));
      NAPI_OK(env, "inotifyRead", napi_set_element(env, out, n++, wd));
      NAPI_OK(env, "inotifyRead", napi_set_element(env, out, n++, mask));
      NAPI_OK(env, "inotifyRead", napi_set_element(env, out, n++, name));
      p += sizeof *e + e->len;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Resource limits (a warm process may only serve callers with the daemon's)

// getrlimits() -> [soft, hard, ...] for the resources the protocol lists, in
// its order; -1 for RLIM_INFINITY (protocol-spec, run request `rlimits`).
static napi_value js_getrlimits(napi_env env, napi_callback_info info) {
  (void)info;
  static const int resources[] = {RLIMIT_CPU,    RLIMIT_FSIZE,  RLIMIT_DATA,
                                  RLIMIT_STACK,  RLIMIT_CORE,   RLIMIT_NOFILE,
                                  RLIMIT_AS,     RLIMIT_NPROC,  RLIMIT_MEMLOCK};
  napi_value out;
  NAPI_OK(env, "getrlimits", napi_create_array(env, &out));
  for (uint32_t i = 0; i < sizeof resources / sizeof resources[0]; i++) {
    struct rlimit rl;
    if (getrlimit(resources[i], &rl) < 0) rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
    napi_value soft, hard;
    NAPI_OK(env, "getrlimits",
            napi_create_double(env, rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur, &soft));
    NAPI_OK(env, "getrlimits",
            napi_create_double(env, rl.rlim_max == RLIM_INFINITY ? -1 : (double)rl.rlim_max, &hard));
    NAPI_OK(env, "getrlimits", napi_set_element(env, out, 2 * i, soft));
    NAPI_OK(env, "getrlimits", napi_set_element(env, out, 2 * i + 1, hard));
  }
  return out;
}

// ---------------------------------------------------------------------------
// A warm process's lifetime

// runLoopOnce() -> whether the loop still has work. Used only in Node's
// preload phase, before Node starts its own loop, so this never re-enters
// a running uv_run; it lets a warm process finish an import() there.
static napi_value js_run_loop_once(napi_env env, napi_callback_info info) {
  (void)info;
  uv_loop_t *loop = NULL;
  napi_value out;
  NAPI_OK(env, "runLoopOnce", napi_get_uv_event_loop(env, &loop));
  int alive = uv_run(loop, UV_RUN_ONCE);
  NAPI_OK(env, "runLoopOnce", napi_get_boolean(env, alive != 0, &out));
  return out;
}

// setParentDeathSignal(signal): prctl(PR_SET_PDEATHSIG), 0 to clear it. An
// idle warm process ends with its daemon; one that took a run outlives it.
static napi_value js_set_parent_death_signal(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t sig;
  if (!get_args(env, info, 1, argv, NULL) ||
      !arg_int(env, "setParentDeathSignal", "signal", argv[0], 0, 64, &sig))
    return NULL;
  if (prctl(PR_SET_PDEATHSIG, (unsigned long)sig) < 0) {
    throw_errno(env, "setParentDeathSignal", "prctl", NULL, errno);
    return NULL;
  }
  return make_undefined(env);
}

// The original argv strings' place in memory: fields 48 and 49 (arg_start,
// arg_end) of /proc/self/stat, counted from the state (field 3) after the
// command name's closing parenthesis.
static bool read_arg_area(unsigned long long *start, unsigned long long *end) {
  char stat[4096];
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, stat, sizeof stat - 1);
  int saved = errno;
  close(fd);
  errno = saved;
  if (n <= 0) return false;
  stat[n] = '\0';
  char *p = strrchr(stat, ')');
  *start = *end = 0;
  for (int field = 3; p && field <= 49; field++) {
    p = strchr(p + 1, ' ');
    if (p && field == 48) *start = strtoull(p + 1, NULL, 10);
    if (p && field == 49) *end = strtoull(p + 1, NULL, 10);
  }
  errno = 0;
  return *start != 0 && *end > *start;
}

// setCommandLine(bytes): what `ps` and /proc/self/cmdline show of this
// process: bytes (NUL-separated words, as exec left them) written over the
// original argv strings, cut to their size, the rest zeroed. Node keeps its
// own copy of argv, and libuv reads its title (process.title) from the
// first word's length, which callers keep the same.
static napi_value js_set_command_line(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char *bytes;
  size_t len;
  if (!get_args(env, info, 1, argv, NULL) ||
      !arg_buffer(env, "setCommandLine", "bytes", argv[0], &bytes, &len))
    return NULL;
  // Read once (the first call is while the process is idle), kept for the run path.
  static unsigned long long start, end;
  if (start == 0 && !read_arg_area(&start, &end)) {
    throw_errno(env, "setCommandLine", "read /proc/self/stat", NULL, errno ? errno : EINVAL);
    return NULL;
  }
  size_t cap = (size_t)(end - start);
  if (len > cap - 1) len = cap - 1;
  memcpy((char *)(uintptr_t)start, bytes, len);
  memset((char *)(uintptr_t)start + len, 0, cap - len);
  return make_undefined(env);
}

// ---------------------------------------------------------------------------
// Module

static napi_value Init(napi_env env, napi_value exports) {
  if (!watcher_init(env)) return NULL;

#define FN(name, cb) {name, NULL, cb, NULL, NULL, NULL, napi_enumerable, NULL}
  napi_property_descriptor fns[] = {
      FN("listenUnix", js_listen_unix),
      FN("accept", js_accept),
      FN("recv", js_recv),
      FN("recvBlocking", js_recv_blocking),
      FN("send", js_send),
      FN("sendAll", js_send_all),
      FN("watch", js_watch),
      FN("close", js_close),
      FN("socketpair", js_socketpair),
      FN("pipe", js_pipe),
      FN("setCloexec", js_set_cloexec),
      FN("setNonblocking", js_set_nonblocking),
      FN("dup2", js_dup2),
      FN("fdKind", js_fd_kind),
      FN("openpty", js_openpty),
      FN("setWinsize", js_set_winsize),
      FN("takeRequest", js_take_request),
      FN("chdir", js_chdir),
      FN("lockFile", js_lock_file),
      FN("readNonblocking", js_read_nonblocking),
      FN("inotifyInit", js_inotify_init),
      FN("inotifyAdd", js_inotify_add),
      FN("inotifyRemove", js_inotify_remove),
      FN("inotifyRead", js_inotify_read),
      FN("getrlimits", js_getrlimits),
      FN("runLoopOnce", js_run_loop_once),
      FN("setParentDeathSignal", js_set_parent_death_signal),
      FN("setCommandLine", js_set_command_line),
  };
#undef FN
  NAPI_OK(env, "init",
          napi_define_properties(env, exports, sizeof fns / sizeof fns[0],
                                 fns));
  return fork_define(env, exports) && exit_define(env, exports) ? exports : NULL;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
