// How a warm Node process ends: exitNow, and exitAfterFatal for forked children.
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addon.h"

// Writes all of data, waiting for room on a non-blocking fd (the client
// link is shared with the daemon, which keeps it non-blocking).
static void write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(fd, POLLOUT) == 0) continue;
    if (n <= 0) return;  // the peer is gone: the wait status still tells
    data += n;
    len -= (size_t)n;
  }
}

// Closes every fd the tool could have made visible to others: all but the
// link, those in keep[] (open before the tool ran: Node's and libuv's own)
// and anonymous inodes (epoll, eventfd, timerfd: other threads' loops).
static void close_tool_fds(int link, const int *keep, size_t nkeep) {
  int fds[4096];
  size_t n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < sizeof fds / sizeof fds[0]) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = atoi(e->d_name);
    if (fd != dirfd(d)) fds[n++] = fd;
  }
  closedir(d);
  for (size_t i = 0; i < n; i++) {
    int fd = fds[i];
    bool kept = fd == link;
    for (size_t k = 0; k < nkeep && !kept; k++) kept = keep[k] == fd;
    struct stat st;
    if (kept || fstat(fd, &st) != 0 || (st.st_mode & S_IFMT) == 0) continue;
    close(fd);
  }
}

// What ending a process sends where: see exitNow.
struct ending {
  int code, link, client;
  char *exit_frame, *closed_frame, *client_frame;
  size_t exit_len, closed_len, client_len;
  int keep[MAX_FDS + 1];  // the listed fds, and the client link
  size_t nkeep;
};

// Reads exitNow's arguments (fn: the JS name, for errors).
static bool parse_ending(napi_env env, napi_callback_info info, const char *fn, struct ending *e) {
  napi_value argv[7];
  int64_t code, client;
  if (!get_args(env, info, 7, argv, NULL) ||
      !arg_int(env, fn, "code", argv[0], 0, 255, &code) ||
      !arg_fd(env, fn, "link", argv[1], &e->link) ||
      !arg_buffer(env, fn, "exitFrame", argv[2], &e->exit_frame, &e->exit_len) ||
      !arg_buffer(env, fn, "closedFrame", argv[3], &e->closed_frame, &e->closed_len) ||
      !arg_fds(env, fn, argv[4], e->keep, &e->nkeep) ||
      !arg_int(env, fn, "client", argv[5], -1, INT_MAX, &client) ||
      !arg_buffer(env, fn, "clientFrame", argv[6], &e->client_frame, &e->client_len))
    return false;
  e->code = (int)code;
  e->client = (int)client;
  if (client >= 0) e->keep[e->nkeep++] = (int)client;
  return true;
}

_Noreturn static void finish(const struct ending *e) {
  fflush(NULL);
  write_all(e->link, e->exit_frame, e->exit_len);
  close_tool_fds(e->link, e->keep, e->nkeep);
  if (e->client >= 0) {
    write_all(e->client, e->client_frame, e->client_len);
    close(e->client);
  }
  write_all(e->link, e->closed_frame, e->closed_len);
  // The caller has its status: what a forked child learns of its pages now costs it nothing.
  size_t len = 0;
  char *touched = pages_touched_frame(&len);
  if (touched) write_all(e->link, touched, len);
  _exit(e->code);
}

// exitNow(code, link, exitFrame, closedFrame, keep, client, clientFrame):
// ends the process at once, after the tool's last 'exit' listener. Node
// would spend ms tearing down V8 and the kernel more unmapping it before the
// daemon could see the exit; instead: flush C stdio, tell the daemon the
// status (exitFrame), close the tool's fds so pipes see EOF and locks are
// released as at death, tell the shim (clientFrame on the client link, when
// client >= 0), tell the daemon that is done (closedFrame), and _exit.
static napi_value js_exit_now(napi_env env, napi_callback_info info) {
  struct ending e;
  if (!parse_ending(env, info, "exitNow", &e)) return NULL;
  finish(&e);
}

// A forked child cannot go through Node's own exit: it joins threads that
// only the template has (libuv's pool, V8's platform workers) and crashes.
// After a fatal exception Node prints it, runs its AtExit callbacks, then
// exits: the callback registered here ends the process as exitNow does.
static struct ending deferred;

static char *copy(const char *data, size_t len) {
  char *out = malloc(len ? len : 1);
  if (out) memcpy(out, data, len);
  return out;
}

static void at_exit(void *arg) {
  (void)arg;
  finish(&deferred);
}

typedef void *(*get_isolate_fn)(void);
typedef void *(*get_context_fn)(void *isolate);
typedef void *(*get_env_fn)(void *context);
typedef void (*at_exit_fn)(void *env, void (*cb)(void *), void *arg);

// Registers at_exit with node::AtExit for the current Environment, through
// the symbols the node binary exports for C++ addons. False if it cannot.
static bool register_at_exit(void) {
  get_isolate_fn isolate = (get_isolate_fn)dlsym(RTLD_DEFAULT, "_ZN2v87Isolate10GetCurrentEv");
  get_context_fn context = (get_context_fn)dlsym(RTLD_DEFAULT, "_ZN2v87Isolate17GetCurrentContextEv");
  get_env_fn environment = (get_env_fn)dlsym(RTLD_DEFAULT, "_ZN4node21GetCurrentEnvironmentEN2v85LocalINS0_7ContextEEE");
  at_exit_fn add = (at_exit_fn)dlsym(RTLD_DEFAULT, "_ZN4node6AtExitEPNS_11EnvironmentEPFvPvES2_");
  if (!isolate || !context || !environment || !add) return false;
  void *iso = isolate();
  void *ctx = iso ? context(iso) : NULL;
  void *node_env = ctx ? environment(ctx) : NULL;
  if (!node_env) return false;
  add(node_env, at_exit, NULL);
  return true;
}

// exitAfterFatal(same arguments as exitNow) -> whether it could: the
// process ends as exitNow would, right after Node has printed the fatal
// exception it is handling. Registers once; a later call replaces what is sent.
static napi_value js_exit_after_fatal(napi_env env, napi_callback_info info) {
  static bool registered;
  struct ending e;
  if (!parse_ending(env, info, "exitAfterFatal", &e)) return NULL;
  char *frames[3] = {copy(e.exit_frame, e.exit_len), copy(e.closed_frame, e.closed_len), copy(e.client_frame, e.client_len)};
  if (!frames[0] || !frames[1] || !frames[2]) {
    for (int i = 0; i < 3; i++) free(frames[i]);
    throw_errno(env, "exitAfterFatal", "malloc", NULL, ENOMEM);
    return NULL;
  }
  if (!registered) registered = register_at_exit();
  napi_value out;
  NAPI_OK(env, "exitAfterFatal", napi_get_boolean(env, registered, &out));
  if (!registered) {
    for (int i = 0; i < 3; i++) free(frames[i]);
    return out;
  }
  free(deferred.exit_frame);
  free(deferred.closed_frame);
  free(deferred.client_frame);
  deferred = e;
  deferred.exit_frame = frames[0];
  deferred.closed_frame = frames[1];
  deferred.client_frame = frames[2];
  return out;
}

bool exit_define(napi_env env, napi_value exports) {
#define FN(name, cb) {name, NULL, cb, NULL, NULL, NULL, napi_enumerable, NULL}
  napi_property_descriptor fns[] = {
      FN("exitNow", js_exit_now),
      FN("exitAfterFatal", js_exit_after_fatal),
  };
#undef FN
  return napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) == napi_ok;
}
