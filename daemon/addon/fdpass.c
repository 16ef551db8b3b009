// Unix sockets: listenUnix, accept (and SO_PEERCRED), recv/send with fds (SCM_RIGHTS).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "addon.h"
#include "../../client-shim/fdmsg.h"

// Receiving with room for MAX_FDS fds means MSG_CTRUNC only happens for odd
// senders.

struct received {
  int fds[MAX_FDS];
  size_t n;
};

static void keep_fd(int fd, void *arg) {
  struct received *r = arg;
  if (r->n < MAX_FDS)
    r->fds[r->n++] = fd;
  else
    close(fd);  // cannot happen with our buffer size; never leak
}

// recv(fd, maxBytes) / recvBlocking(fd, maxBytes) -> {data, fds, truncated}.
// With MSG_CTRUNC (`truncated`), the fds that did fit are still returned: the
// caller owns them and must close them. recv returns null on EAGAIN;
// recvBlocking polls instead (so it works on O_NONBLOCK fds too).
static napi_value do_recv(napi_env env, napi_callback_info info, bool block) {
  const char *fn = block ? "recvBlocking" : "recv";
  napi_value argv[2];
  int fd;
  int64_t max;
  if (!get_args(env, info, 2, argv, NULL) ||
      !arg_fd(env, fn, "fd", argv[0], &fd) ||
      !arg_int(env, fn, "maxBytes", argv[1], 1, MAX_IO, &max))
    return NULL;

  char *buf = malloc((size_t)max);
  if (!buf) {
    throw_errno(env, fn, "malloc", NULL, ENOMEM);
    return NULL;
  }
  union {
    struct cmsghdr align;
    char bytes[FDMSG_SPACE(MAX_FDS)];
  } ctl;
  struct iovec iov = {.iov_base = buf, .iov_len = (size_t)max};
  struct msghdr msg;
  ssize_t n;
  for (;;) {
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.bytes;
    msg.msg_controllen = sizeof ctl.bytes;
    n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | (block ? 0 : MSG_DONTWAIT));
    if (n >= 0) break;
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      if (!block) {
        free(buf);
        return make_null(env);
      }
      if (wait_for(fd, POLLIN) == 0) continue;
      err = errno;
      free(buf);
      throw_errno(env, fn, "poll", NULL, err);
      return NULL;
    }
    free(buf);
    throw_errno(env, fn, "recvmsg", NULL, err);
    return NULL;
  }

  struct received got = {.n = 0};
  fdmsg_each(&msg, keep_fd, &got);
  int *fds = got.fds;
  size_t nfds = got.n;

  napi_value result, data, fdarr, trunc;
  bool ok = napi_create_object(env, &result) == napi_ok &&
            napi_create_buffer_copy(env, (size_t)n, buf, NULL, &data) ==
                napi_ok &&
            (fdarr = make_int_array(env, fds, nfds)) != NULL &&
            napi_get_boolean(env, (msg.msg_flags & MSG_CTRUNC) != 0,
                             &trunc) == napi_ok &&
            napi_set_named_property(env, result, "data", data) == napi_ok &&
            napi_set_named_property(env, result, "fds", fdarr) == napi_ok &&
            napi_set_named_property(env, result, "truncated", trunc) ==
                napi_ok;
  free(buf);
  if (!ok) {
    close_all(fds, nfds);  // JS will never see them
    throw_napi_failure(env, fn);
    return NULL;
  }
  return result;
}

napi_value js_recv(napi_env env, napi_callback_info info) {
  return do_recv(env, info, false);
}

napi_value js_recv_blocking(napi_env env, napi_callback_info info) {
  return do_recv(env, info, true);
}

// One non-blocking sendmsg without SIGPIPE; fds ride as SCM_RIGHTS.
static ssize_t send_once(int fd, const char *data, size_t len, const int *fds,
                         size_t nfds) {
  union {
    struct cmsghdr align;
    char bytes[FDMSG_SPACE(MAX_FDS)];
  } ctl;
  struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (nfds > 0) fdmsg_attach(&msg, ctl.bytes, fds, nfds);
  ssize_t n;
  do {
    n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return n;
}

// Shared argument parsing for send/sendAll. On a stream socket the kernel
// silently drops fds sent with zero bytes, so that is refused.
static bool send_args(napi_env env, napi_callback_info info, const char *fn,
                      int *fd, char **data, size_t *len, int *fds,
                      size_t *nfds) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv, NULL) ||
      !arg_fd(env, fn, "fd", argv[0], fd) ||
      !arg_buffer(env, fn, "data", argv[1], data, len) ||
      !arg_fds(env, fn, argv[2], fds, nfds))
    return false;
  if (*nfds > 0 && *len == 0) {
    throw_arg(env, fn, "data", "non-empty when fds are sent");
    return false;
  }
  return true;
}

// send(fd, data, fds?) -> bytes written (fds went with them if > 0), or -1 on
// EAGAIN (nothing was sent, fds included).
napi_value js_send(napi_env env, napi_callback_info info) {
  int fd, fds[MAX_FDS];
  char *data;
  size_t len, nfds;
  if (!send_args(env, info, "send", &fd, &data, &len, fds, &nfds)) return NULL;
  ssize_t n = send_once(fd, data, len, fds, nfds);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return make_int(env, -1);
  if (n < 0) {
    throw_errno(env, "send", "sendmsg", NULL, errno);
    return NULL;
  }
  return make_int(env, n);
}

// sendAll(fd, data, fds?): blocks the thread (poll) until all is written.
napi_value js_send_all(napi_env env, napi_callback_info info) {
  int fd, fds[MAX_FDS];
  char *data;
  size_t len, nfds, off = 0;
  if (!send_args(env, info, "sendAll", &fd, &data, &len, fds, &nfds))
    return NULL;
  while (off < len) {
    ssize_t n = send_once(fd, data + off, len - off, fds, nfds);
    if (n >= 0) {
      off += (size_t)n;
      if (n > 0) nfds = 0;  // the fds went with the first byte(s)
      continue;
    }
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      if (wait_for(fd, POLLOUT) == 0) continue;
      err = errno;
      throw_errno(env, "sendAll", "poll", NULL, err);
      return NULL;
    }
    throw_errno(env, "sendAll", "sendmsg", NULL, err);
    return NULL;
  }
  return make_undefined(env);
}

// listenUnix(path, backlog) -> listening fd (non-blocking, CLOEXEC).
napi_value js_listen_unix(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t backlog;
  size_t len;
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  char *path = arg_path(env, "listenUnix", "path", argv[0], &len);
  if (!path) return NULL;
  if (!arg_int(env, "listenUnix", "backlog", argv[1], 0, INT_MAX, &backlog)) {
    free(path);
    return NULL;
  }
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (len >= sizeof addr.sun_path) {
    throw_errno(env, "listenUnix", "bind", path, ENAMETOOLONG);
    free(path);
    return NULL;
  }
  memcpy(addr.sun_path, path, len + 1);

  const char *call = "socket";
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd >= 0) {
    call = "bind";
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
      call = "listen";
      if (listen(fd, (int)backlog) == 0) {
        free(path);
        return make_int(env, fd);
      }
    }
    int err = errno;
    close(fd);
    errno = err;
  }
  throw_errno(env, "listenUnix", call, path, errno);
  free(path);
  return NULL;
}

// accept(listenFd) -> {fd, uid, gid, pid} or null when nothing is pending.
napi_value js_accept(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int lfd, fd;
  if (!get_args(env, info, 1, argv, NULL) ||
      !arg_fd(env, "accept", "listenFd", argv[0], &lfd))
    return NULL;
  do {
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    // ECONNABORTED: the client gave up before we got to it; nothing to do.
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED)
      return make_null(env);
    throw_errno(env, "accept", "accept4", NULL, errno);
    return NULL;
  }
  struct ucred cred;
  socklen_t clen = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0) {
    int err = errno;
    close(fd);
    throw_errno(env, "accept", "getsockopt(SO_PEERCRED)", NULL, err);
    return NULL;
  }
  napi_value peer;
  if (napi_create_object(env, &peer) != napi_ok ||
      !set_int_prop(env, peer, "fd", fd) ||
      !set_int_prop(env, peer, "uid", cred.uid) ||
      !set_int_prop(env, peer, "gid", cred.gid) ||
      !set_int_prop(env, peer, "pid", cred.pid)) {
    close(fd);
    throw_napi_failure(env, "accept");
    return NULL;
  }
  return peer;
}
