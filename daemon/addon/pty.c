// Pseudo-terminals: openpty and setWinsize, for warm processes whose callers have a terminal.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "addon.h"

static bool set_winsize(int fd, int rows, int cols) {
  struct winsize ws = {.ws_row = (unsigned short)rows,
                       .ws_col = (unsigned short)cols};
  return ioctl(fd, TIOCSWINSZ, &ws) == 0;
}

napi_value js_openpty(napi_env env, napi_callback_info info) {
  (void)info;
  char name[128];
  const char *call = "posix_openpt";
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), slave = -1, err;
  if (master < 0) goto fail;
  call = "grantpt";
  if (grantpt(master) != 0) goto fail;
  call = "unlockpt";
  if (unlockpt(master) != 0) goto fail;
  call = "ptsname_r";
  if ((err = ptsname_r(master, name, sizeof name)) != 0) {
    errno = err;
    goto fail;
  }
  call = "open";
  do {
    slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  } while (slave < 0 && errno == EINTR);
  if (slave < 0) goto fail;
  call = "ioctl(TIOCSWINSZ)";
  if (!set_winsize(master, 24, 80)) goto fail;

  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok ||
      !set_int_prop(env, obj, "master", master) ||
      !set_int_prop(env, obj, "slave", slave)) {
    close(master);
    close(slave);
    throw_napi_failure(env, "openpty");
    return NULL;
  }
  return obj;

fail:
  err = errno;
  if (slave >= 0) close(slave);
  if (master >= 0) close(master);
  throw_errno(env, "openpty", call, NULL, err);
  return NULL;
}

napi_value js_set_winsize(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  int64_t rows, cols;
  if (!get_args(env, info, 3, argv, NULL) ||
      !arg_fd(env, "setWinsize", "fd", argv[0], &fd) ||
      !arg_int(env, "setWinsize", "rows", argv[1], 0, 65535, &rows) ||
      !arg_int(env, "setWinsize", "cols", argv[2], 0, 65535, &cols))
    return NULL;
  if (!set_winsize(fd, (int)rows, (int)cols)) {
    throw_errno(env, "setWinsize", "ioctl(TIOCSWINSZ)", NULL, errno);
    return NULL;
  }
  return make_undefined(env);
}
