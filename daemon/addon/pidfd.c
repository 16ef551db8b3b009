// pidfdOpen: an fd that becomes readable when a process (not necessarily a
// child) ends, so the daemon learns when a tool it told to run directly
// (in the shim's own process, after exec) has exited.
#define _GNU_SOURCE
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addon.h"

// pidfdOpen(pid) -> fd (close-on-exec, as pidfds always are).
napi_value js_pidfd_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t pid;
  if (!get_args(env, info, 1, argv, NULL) ||
      !arg_int(env, "pidfdOpen", "pid", argv[0], 1, INT32_MAX, &pid))
    return NULL;
  long fd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd < 0) {
    throw_errno(env, "pidfdOpen", "pidfd_open", NULL, errno);
    return NULL;
  }
  return make_int(env, (int)fd);
}
