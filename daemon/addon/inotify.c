// inotify for the daemon's staleness check: inotifyInit, inotifyAdd, inotifyRemove, inotifyRead.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "addon.h"

// inotifyInit() -> fd (non-blocking, close-on-exec).
napi_value js_inotify_init(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    throw_errno(env, "inotifyInit", "inotify_init1", NULL, errno);
    return NULL;
  }
  return make_int(env, fd);
}

// inotifyAdd(fd, path, mask) -> watch descriptor.
napi_value js_inotify_add(napi_env env, napi_callback_info info) {
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
napi_value js_inotify_remove(napi_env env, napi_callback_info info) {
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
napi_value js_inotify_read(napi_env env, napi_callback_info info) {
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
