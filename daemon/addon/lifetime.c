// A warm process's lifetime: isMainThread, runLoopOnce, setParentDeathSignal (pdeathsig), ownProcessGroup, setCommandLine.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addon.h"

#include <uv.h>

// isMainThread() -> whether the calling thread is the process's main thread
// (its tid is the pid): what worker_threads.isMainThread says, without
// loading worker_threads (~8 ms of a learning run's CPU: it loads streams).
napi_value js_is_main_thread(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  NAPI_OK(env, "isMainThread", napi_get_boolean(env, syscall(SYS_gettid) == getpid(), &out));
  return out;
}

// runLoopOnce() -> whether the loop still has work. Used only in Node's
// preload phase, before Node starts its own loop, so this never re-enters
// a running uv_run; it lets a warm process finish an import() there.
napi_value js_run_loop_once(napi_env env, napi_callback_info info) {
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
napi_value js_set_parent_death_signal(napi_env env, napi_callback_info info) {
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

// ownProcessGroup(): setpgid(0, 0). A warm process is started in the
// daemon's session and makes a process group of its own there (the shim
// signals -pid), rather than a session of its own: a group whose parent is
// in the same session is not orphaned, so a tool that stops itself
// (readline's ^Z at a prompt, a SIGTSTP handler re-raising it) does stop,
// where the kernel discards the stop in an orphaned group.
napi_value js_own_process_group(napi_env env, napi_callback_info info) {
  (void)info;
  if (setpgid(0, 0) < 0) {
    throw_errno(env, "ownProcessGroup", "setpgid", NULL, errno);
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
napi_value js_set_command_line(napi_env env, napi_callback_info info) {
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
