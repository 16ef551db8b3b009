// fds: close, socketpair, pipe, fcntl flags, dup, dup2, fdKind, readNonblocking, lockFile.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addon.h"

napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv, NULL) ||
      !arg_fd(env, "close", "fd", argv[0], &fd))
    return NULL;
  // On Linux the fd is released even when close reports an error, so EINTR
  // must not be retried (the number may already belong to someone else).
  if (close(fd) != 0 && errno != EINTR) {
    throw_errno(env, "close", "close", NULL, errno);
    return NULL;
  }
  return make_undefined(env);
}

napi_value js_socketpair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    throw_errno(env, "socketpair", "socketpair", NULL, errno);
    return NULL;
  }
  napi_value arr = make_int_array(env, sv, 2);
  if (!arr) {
    close_all(sv, 2);
    throw_napi_failure(env, "socketpair");
  }
  return arr;
}

napi_value js_pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    throw_errno(env, "pipe", "pipe2", NULL, errno);
    return NULL;
  }
  napi_value arr = make_int_array(env, p, 2);
  if (!arr) {
    close_all(p, 2);
    throw_napi_failure(env, "pipe");
  }
  return arr;
}

// Sets or clears `flag` with fcntl get/set commands (FD_CLOEXEC, O_NONBLOCK).
static napi_value set_fd_flag(napi_env env, napi_callback_info info,
                              const char *fn, int get, int set, int flag) {
  napi_value argv[2];
  int fd;
  bool on;
  if (!get_args(env, info, 2, argv, NULL) ||
      !arg_fd(env, fn, "fd", argv[0], &fd) ||
      !arg_bool(env, fn, "on", argv[1], &on))
    return NULL;
  int flags = fcntl(fd, get);
  if (flags < 0) {
    throw_errno(env, fn, "fcntl", NULL, errno);
    return NULL;
  }
  int want = on ? (flags | flag) : (flags & ~flag);
  if (want != flags && fcntl(fd, set, want) < 0) {
    throw_errno(env, fn, "fcntl", NULL, errno);
    return NULL;
  }
  return make_undefined(env);
}

napi_value js_set_cloexec(napi_env env, napi_callback_info info) {
  return set_fd_flag(env, info, "setCloexec", F_GETFD, F_SETFD, FD_CLOEXEC);
}

napi_value js_set_nonblocking(napi_env env, napi_callback_info info) {
  return set_fd_flag(env, info, "setNonblocking", F_GETFL, F_SETFL,
                     O_NONBLOCK);
}

// dup2(from, to): `to` ends up without FD_CLOEXEC. dup2 with from == to is a
// no-op that would keep the flag, so that case clears it explicitly.
napi_value js_dup2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int from, to, r;
  if (!get_args(env, info, 2, argv, NULL) ||
      !arg_fd(env, "dup2", "from", argv[0], &from) ||
      !arg_fd(env, "dup2", "to", argv[1], &to))
    return NULL;
  if (from == to) {
    int flags = fcntl(from, F_GETFD);
    if (flags < 0 || fcntl(from, F_SETFD, flags & ~FD_CLOEXEC) < 0) {
      throw_errno(env, "dup2", "fcntl", NULL, errno);
      return NULL;
    }
    return make_undefined(env);
  }
  // EBUSY: a race with open() in another thread on Linux; retrying is right.
  do {
    r = dup2(from, to);
  } while (r < 0 && (errno == EINTR || errno == EBUSY));
  if (r < 0) {
    throw_errno(env, "dup2", "dup2", NULL, errno);
    return NULL;
  }
  return make_undefined(env);
}

// dup(fd) -> a new fd for the same open file, close-on-exec (F_DUPFD_CLOEXEC).
napi_value js_dup(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd, r;
  if (!get_args(env, info, 1, argv, NULL) ||
      !arg_fd(env, "dup", "fd", argv[0], &fd))
    return NULL;
  r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (r < 0) {
    throw_errno(env, "dup", "fcntl", NULL, errno);
    return NULL;
  }
  return make_int(env, r);
}

napi_value js_fd_kind(napi_env env, napi_callback_info info) {
  napi_value argv[1], v;
  int fd;
  if (!get_args(env, info, 1, argv, NULL) ||
      !arg_fd(env, "fdKind", "fd", argv[0], &fd))
    return NULL;
  struct stat st;
  const char *kind;
  if (fstat(fd, &st) != 0) {
    if (errno != EBADF) {
      throw_errno(env, "fdKind", "fstat", NULL, errno);
      return NULL;
    }
    kind = "closed";
  } else if (S_ISCHR(st.st_mode)) {
    kind = isatty(fd) ? "tty" : "char";
  } else if (S_ISFIFO(st.st_mode)) {
    kind = "pipe";
  } else if (S_ISSOCK(st.st_mode)) {
    kind = "socket";
  } else if (S_ISREG(st.st_mode)) {
    kind = "file";
  } else if (S_ISDIR(st.st_mode)) {
    kind = "dir";
  } else {
    kind = "other";
  }
  NAPI_OK(env, "fdKind",
          napi_create_string_utf8(env, kind, NAPI_AUTO_LENGTH, &v));
  return v;
}

// Non-blocking read even on a blocking fd: such fds are polled first (a
// race with another reader could still block, so prefer O_NONBLOCK fds).
napi_value js_read_nonblocking(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  int fd;
  int64_t max;
  if (!get_args(env, info, 2, argv, NULL) ||
      !arg_fd(env, "readNonblocking", "fd", argv[0], &fd) ||
      !arg_int(env, "readNonblocking", "maxBytes", argv[1], 1, MAX_IO, &max))
    return NULL;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) {
    throw_errno(env, "readNonblocking", "fcntl", NULL, errno);
    return NULL;
  }
  if (!(fl & O_NONBLOCK)) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r;
    do {
      r = poll(&p, 1, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      throw_errno(env, "readNonblocking", "poll", NULL, errno);
      return NULL;
    }
    if (r == 0) return make_null(env);  // would block
  }
  char *buf = malloc((size_t)max);
  if (!buf) {
    throw_errno(env, "readNonblocking", "malloc", NULL, ENOMEM);
    return NULL;
  }
  ssize_t n;
  do {
    n = read(fd, buf, (size_t)max);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    int err = errno;
    free(buf);
    if (err == EAGAIN || err == EWOULDBLOCK) return make_null(env);
    throw_errno(env, "readNonblocking", "read", NULL, err);
    return NULL;
  }
  napi_status s = napi_create_buffer_copy(env, (size_t)n, buf, NULL, &out);
  free(buf);
  NAPI_OK(env, "readNonblocking", s);
  return out;
}

// lockFile(path) -> fd holding an exclusive flock, or -1 if someone else has
// it. flock locks belong to the open file description, so even a second
// lockFile of the same path in this process gets -1.
napi_value js_lock_file(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t len;
  int fd, r;
  if (!get_args(env, info, 1, argv, NULL)) return NULL;
  char *path = arg_path(env, "lockFile", "path", argv[0], &len);
  if (!path) return NULL;
  do {
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    throw_errno(env, "lockFile", "open", path, errno);
    free(path);
    return NULL;
  }
  do {
    r = flock(fd, LOCK_EX | LOCK_NB);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) {
      free(path);
      return make_int(env, -1);
    }
    throw_errno(env, "lockFile", "flock", path, err);
    free(path);
    return NULL;
  }
  free(path);
  return make_int(env, fd);
}
