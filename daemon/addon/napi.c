// N-API helpers the addon's files share: errors, argument checks, results.
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addon.h"

// ---------------------------------------------------------------------------
// Errors

static const char *errno_name(int err) {
#if !defined(WARM_ERRNO_TABLE) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
#else
  // Older libcs: the errnos warm can meet; others become "EUNKNOWN".
#define E(x) \
  case x:    \
    return #x;
  switch (err) {
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(EBADF)
    E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(ENODEV)
    E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(ENOSPC)
    E(EROFS) E(EPIPE) E(ENAMETOOLONG) E(ELOOP) E(ENOTSOCK) E(EMSGSIZE)
    E(EOPNOTSUPP) E(EADDRINUSE) E(EADDRNOTAVAIL) E(ECONNABORTED)
    E(ECONNRESET) E(ENOBUFS) E(EISCONN) E(ENOTCONN) E(ETIMEDOUT)
    E(ECONNREFUSED)
  }
#undef E
  return "EUNKNOWN";
#endif
}

// If a napi call failed without leaving a JS exception pending, throw one
// describing it, so the caller can simply return NULL.
void throw_napi_failure(napi_env env, const char *fn) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof msg, "%s: internal N-API error: %s", fn,
           info && info->error_message ? info->error_message : "unknown");
  napi_throw_error(env, NULL, msg);
}

// Throws e.g. Error("recv: recvmsg: Bad file descriptor (EBADF)") with
// code "EBADF" and syscall "recvmsg". `detail` (a path, say) is optional.
void throw_errno(napi_env env, const char *fn, const char *syscall,
                        const char *detail, int err) {
  const char *name = errno_name(err);
  char msg[1024];
  snprintf(msg, sizeof msg, "%s: %s%s%s: %s (%s)", fn, syscall,
           detail ? " " : "", detail ? detail : "", strerror(err), name);
  napi_value code, message, error, sc;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok ||
      napi_create_error(env, code, message, &error) != napi_ok) {
    throw_napi_failure(env, fn);
    return;
  }
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc) == napi_ok)
    napi_set_named_property(env, error, "syscall", sc);
  napi_throw(env, error);
}

void throw_arg(napi_env env, const char *fn, const char *what,
                      const char *must) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s must be %s", fn, what, must);
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
}

// ---------------------------------------------------------------------------
// Arguments and results

// Fetches exactly n arguments (missing ones are undefined) and `this`.
bool get_args(napi_env env, napi_callback_info info, size_t n,
                     napi_value *argv, napi_value *self) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, self, NULL) != napi_ok) {
    throw_napi_failure(env, "warm_native");
    return false;
  }
  return true;
}

bool arg_int(napi_env env, const char *fn, const char *what,
                    napi_value v, int64_t min, int64_t max, int64_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number ||
      napi_get_value_double(env, v, &d) != napi_ok || !isfinite(d) ||
      d != floor(d) || d < (double)min || d > (double)max) {
    char must[96];
    if (min == 0 && max == INT_MAX)
      snprintf(must, sizeof must, "a non-negative integer");
    else
      snprintf(must, sizeof must, "an integer from %lld to %lld",
               (long long)min, (long long)max);
    throw_arg(env, fn, what, must);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

bool arg_fd(napi_env env, const char *fn, const char *what,
                   napi_value v, int *out) {
  int64_t x;
  if (!arg_int(env, fn, what, v, 0, INT_MAX, &x)) return false;
  *out = (int)x;
  return true;
}

bool arg_bool(napi_env env, const char *fn, const char *what,
                     napi_value v, bool *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_boolean ||
      napi_get_value_bool(env, v, out) != napi_ok) {
    throw_arg(env, fn, what, "a boolean");
    return false;
  }
  return true;
}

bool arg_buffer(napi_env env, const char *fn, const char *what,
                       napi_value v, char **data, size_t *len) {
  bool is = false;
  void *p = NULL;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is ||
      napi_get_buffer_info(env, v, &p, len) != napi_ok) {
    throw_arg(env, fn, what, "a Buffer");
    return false;
  }
  *data = p;
  return true;
}

// A JS string as a malloc'd NUL-terminated UTF-8 string (caller frees).
// Rejects empty strings and strings containing NUL.
char *arg_path(napi_env env, const char *fn, const char *what,
                      napi_value v, size_t *len_out) {
  napi_valuetype t;
  size_t len = 0;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string ||
      napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    throw_arg(env, fn, what, "a string");
    return NULL;
  }
  char *s = malloc(len + 1);
  if (!s) {
    throw_errno(env, fn, "malloc", NULL, ENOMEM);
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (len == 0 || strlen(s) != len) {
    free(s);
    throw_arg(env, fn, what, "a non-empty string without NUL characters");
    return NULL;
  }
  *len_out = len;
  return s;
}

// Optional fd list (undefined/null = none), at most MAX_FDS entries.
bool arg_fds(napi_env env, const char *fn, napi_value v, int *fds,
                    size_t *nfds) {
  napi_valuetype t;
  bool is_array = false;
  uint32_t n = 0;
  *nfds = 0;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_undefined || t == napi_null) return true;
  if (napi_is_array(env, v, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, v, &n) != napi_ok || n > MAX_FDS) {
    throw_arg(env, fn, "fds", "an array of at most 253 fds");
    return false;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    char what[32];
    snprintf(what, sizeof what, "fds[%u]", (unsigned)i);
    if (napi_get_element(env, v, i, &e) != napi_ok) {
      throw_napi_failure(env, fn);
      return false;
    }
    if (!arg_fd(env, fn, what, e, &fds[i])) return false;
  }
  *nfds = n;
  return true;
}

napi_value make_int(napi_env env, int64_t x) {
  napi_value v = NULL;
  if (napi_create_int64(env, x, &v) != napi_ok) return NULL;
  return v;
}

napi_value make_null(napi_env env) {
  napi_value v = NULL;
  napi_get_null(env, &v);
  return v;
}

napi_value make_undefined(napi_env env) {
  napi_value v = NULL;
  napi_get_undefined(env, &v);
  return v;
}

napi_value make_int_array(napi_env env, const int *xs, size_t n) {
  napi_value arr, e;
  if (napi_create_array_with_length(env, n, &arr) != napi_ok) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (napi_create_int32(env, xs[i], &e) != napi_ok ||
        napi_set_element(env, arr, (uint32_t)i, e) != napi_ok)
      return NULL;
  }
  return arr;
}

bool set_int_prop(napi_env env, napi_value obj, const char *key,
                         int64_t x) {
  napi_value v = make_int(env, x);
  return v && napi_set_named_property(env, obj, key, v) == napi_ok;
}

void close_all(const int *fds, size_t n) {
  for (size_t i = 0; i < n; i++) close(fds[i]);
}

// poll() until fd has `events` (or an error/hangup, which the caller's next
// syscall then reports). Returns 0, or -1 with errno.
int wait_for(int fd, short events) {
  struct pollfd p = {.fd = fd, .events = events};
  for (;;) {
    int r = poll(&p, 1, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (p.revents & POLLNVAL) {
      errno = EBADF;
      return -1;
    }
    return 0;
  }
}
