// The addon's module: the JS name of every export and the C function behind it.
// The JS interface and its contract are in daemon/src/native.ts; the few
// syscalls Node cannot make for warm live one job per file:
//   napi.c          N-API helpers: errors, argument checks, results
//   fdpass.c        Unix sockets: listen, accept (SO_PEERCRED), fd passing
//   watcher.c       watch(): the poll watcher and its lifetime
//   fds.c           fds and file locks (pipe, dup2, fcntl flags, lockFile...)
//   pty.c           pseudo-terminals (openpty, setWinsize)
//   take_request.c  a warm process takes on a caller's request (takeRequest, chdir)
//   inotify.c       the daemon's staleness check (inotify*)
//   rlimits.c       the daemon's resource limits (getrlimits)
//   lifetime.c      a warm process's lifetime (isMainThread, runLoopOnce, pdeathsig, ownProcessGroup, setCommandLine)
//   fork.c, exit.c  forking a Node template's children; how a warm Node process ends
//   run_view.c      the parts of a run request a warm process takes on, parsed
//   flag_hash.c     a Node template's V8 flag hash made a plain node's (adoptFlagHash, restampFlagHash)
//
// Conventions (every file):
// - Every fd created or received here is close-on-exec, except dup2's target.
// - A failed syscall throws an Error whose `code` is the errno name (EBADF...)
//   and whose `syscall` is the syscall; its message names the JS call too.
// - Bad arguments throw a TypeError (code ERR_INVALID_ARG_VALUE) before any
//   syscall is made.
// - EINTR is retried everywhere.
#include "addon.h"

#include <node_api.h>

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
      FN("dup", js_dup),
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
      FN("pidfdOpen", js_pidfd_open),
      FN("getrlimits", js_getrlimits),
      FN("isMainThread", js_is_main_thread),
      FN("runLoopOnce", js_run_loop_once),
      FN("setParentDeathSignal", js_set_parent_death_signal),
      FN("ownProcessGroup", js_own_process_group),
      FN("setCommandLine", js_set_command_line),
  };
#undef FN
  NAPI_OK(env, "init",
          napi_define_properties(env, exports, sizeof fns / sizeof fns[0],
                                 fns));
  return fork_define(env, exports) && exit_define(env, exports) && pages_define(env, exports) && flag_hash_define(env, exports) ? exports : NULL;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
