// watch(fd, callback): the poll watcher (a uv_poll_t as a Watcher object) and its lifetime.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "addon.h"

#include <uv.h>

// Lifetime: the Watcher JS object owns the struct (napi_wrap). While the
// handle is open we hold strong refs to the object and the callback, so
// neither can be collected under an active handle; the uv close callback
// drops them, and the wrap finalizer frees the struct later. At env teardown
// the finalizer may run first: it then closes the handle itself and the close
// callback frees the struct without touching N-API.

enum watcher_state { W_OPEN, W_CLOSING, W_CLOSED };

typedef struct watcher {
  uv_poll_t poll;  // poll.data points back here
  napi_env env;
  int fd;
  napi_ref self;   // strong while the handle is open
  napi_ref callback;
  napi_async_context async;
  enum watcher_state state;
  bool finalized;  // the JS object is gone (env teardown)
  struct watcher *prev, *next;  // in open_watchers while W_OPEN
} watcher_t;

// libuv supports one uv_poll_t per fd and loop, but uv_poll_init only
// notices a clash with a *started* handle; two handles started later would
// silently share one epoll registration. So watch() refuses (EEXIST) an fd
// that already has an open watcher on the same loop. Global (not per env)
// because worker threads share the addon; hence the mutex.
static watcher_t *open_watchers;
static pthread_mutex_t open_watchers_lock = PTHREAD_MUTEX_INITIALIZER;

// Adds w unless another open watcher has the same loop and fd.
static bool open_watchers_add(watcher_t *w) {
  bool ok = true;
  pthread_mutex_lock(&open_watchers_lock);
  for (watcher_t *o = open_watchers; o; o = o->next) {
    if (o->poll.loop == w->poll.loop &&
        o->fd == w->fd) {
      ok = false;
      break;
    }
  }
  if (ok) {
    w->prev = NULL;
    w->next = open_watchers;
    if (open_watchers) open_watchers->prev = w;
    open_watchers = w;
  }
  pthread_mutex_unlock(&open_watchers_lock);
  return ok;
}

static void open_watchers_remove(watcher_t *w) {
  pthread_mutex_lock(&open_watchers_lock);
  if (w->prev)
    w->prev->next = w->next;
  else
    open_watchers = w->next;
  if (w->next) w->next->prev = w->prev;
  w->prev = w->next = NULL;
  pthread_mutex_unlock(&open_watchers_lock);
}

typedef struct {
  napi_ref watcher_ctor;
} addon_data_t;

static void watcher_on_close(uv_handle_t *h) {
  watcher_t *w = h->data;
  w->state = W_CLOSED;
  if (w->finalized) {
    free(w);
    return;
  }
  napi_env env = w->env;
  napi_handle_scope scope;
  bool scoped = napi_open_handle_scope(env, &scope) == napi_ok;
  napi_async_destroy(env, w->async);
  napi_delete_reference(env, w->callback);
  napi_delete_reference(env, w->self);  // the object may now be collected
  w->async = NULL;
  w->callback = w->self = NULL;
  if (scoped) napi_close_handle_scope(env, scope);
}

static void watcher_begin_close(watcher_t *w) {
  if (w->state != W_OPEN) return;
  w->state = W_CLOSING;
  open_watchers_remove(w);
  uv_close((uv_handle_t *)&w->poll, watcher_on_close);
}

static void watcher_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  watcher_t *w = data;
  if (w->state == W_CLOSED) {
    free(w);
    return;
  }
  w->finalized = true;  // watcher_on_close frees it
  watcher_begin_close(w);
}

static void watcher_on_poll(uv_poll_t *h, int status, int events) {
  watcher_t *w = h->data;
  if (w->state != W_OPEN) return;
  // On an error, libuv has stopped the handle; report "readable" so JS reads
  // and meets the error (or EOF) itself.
  int ev = 0;
  if (status < 0)
    ev = 1;
  else
    ev = ((events & UV_READABLE) ? 1 : 0) | ((events & UV_WRITABLE) ? 2 : 0);
  if (ev == 0) return;

  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value self, cb, arg, result;
  if (napi_get_reference_value(env, w->self, &self) == napi_ok &&
      napi_get_reference_value(env, w->callback, &cb) == napi_ok &&
      napi_create_int32(env, ev, &arg) == napi_ok) {
    // make_callback (not call_function) so that process.nextTick and
    // promise jobs run afterwards, as after any Node I/O callback.
    napi_status s = napi_make_callback(env, w->async, self, cb, 1, &arg,
                                       &result);
    if (s != napi_ok) {
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok)
        napi_fatal_exception(env, exc);  // -> 'uncaughtException'
    }
  }
  napi_close_handle_scope(env, scope);
}

static watcher_t *this_watcher(napi_env env, napi_callback_info info,
                               const char *fn, napi_value *argv, size_t n) {
  napi_value self;
  void *p = NULL;
  if (!get_args(env, info, n, argv, &self)) return NULL;
  if (napi_unwrap(env, self, &p) != napi_ok || !p) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {  // unwrap of a non-object throws; replace with ours
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    throw_arg(env, fn, "this", "a Watcher (call it as a method)");
    return NULL;
  }
  return p;
}

// start(events): 1 readable, 2 writable, 3 both; 0 is the same as stop().
static napi_value watcher_start(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t events;
  watcher_t *w = this_watcher(env, info, "Watcher.start", argv, 1);
  if (!w || !arg_int(env, "Watcher.start", "events", argv[0], 0, 3, &events))
    return NULL;
  if (w->state != W_OPEN) {
    napi_throw_error(env, "ERR_WATCHER_CLOSED",
                     "Watcher.start: the watcher is closed");
    return NULL;
  }
  // libuv aborts the process if epoll_ctl fails on a closed fd, so check
  // first. (Close the watcher before its fd: a reused number is not caught.)
  if (events && fcntl(w->fd, F_GETFD) < 0) {
    throw_errno(env, "Watcher.start", "fcntl", NULL, errno);
    return NULL;
  }
  int uvev = ((events & 1) ? UV_READABLE : 0) | ((events & 2) ? UV_WRITABLE : 0);
  int r = uvev ? uv_poll_start(&w->poll, uvev, watcher_on_poll)
               : uv_poll_stop(&w->poll);
  if (r < 0) {
    throw_errno(env, "Watcher.start", "uv_poll_start", NULL, -r);
    return NULL;
  }
  return make_undefined(env);
}

// stop(): no-op once closed. A stopped watcher does not keep the loop alive.
static napi_value watcher_stop(napi_env env, napi_callback_info info) {
  watcher_t *w = this_watcher(env, info, "Watcher.stop", NULL, 0);
  if (!w) return NULL;
  if (w->state == W_OPEN) uv_poll_stop(&w->poll);
  return make_undefined(env);
}

// close(): idempotent; the fd itself stays open.
static napi_value watcher_close(napi_env env, napi_callback_info info) {
  watcher_t *w = this_watcher(env, info, "Watcher.close", NULL, 0);
  if (!w) return NULL;
  watcher_begin_close(w);
  return make_undefined(env);
}

// new Watcher(fd, callback); reached through watch().
static napi_value watcher_ctor(napi_env env, napi_callback_info info) {
  napi_value argv[2], self, target, name;
  napi_valuetype t;
  int fd;
  size_t argc = 2;
  NAPI_OK(env, "watch", napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  NAPI_OK(env, "watch", napi_get_new_target(env, info, &target));
  if (!target) {
    napi_throw_type_error(env, NULL, "Watcher must be called with new");
    return NULL;
  }
  if (!arg_fd(env, "watch", "fd", argv[0], &fd)) return NULL;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    throw_arg(env, "watch", "callback", "a function");
    return NULL;
  }
  uv_loop_t *loop;
  NAPI_OK(env, "watch", napi_get_uv_event_loop(env, &loop));
  watcher_t *w = calloc(1, sizeof *w);
  if (!w) {
    throw_errno(env, "watch", "calloc", NULL, ENOMEM);
    return NULL;
  }
  // Note: uv_poll_init puts the fd in O_NONBLOCK mode, and fails with EEXIST
  // if this loop already polls the fd, or EPERM for regular files.
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r < 0) {
    free(w);
    throw_errno(env, "watch", "uv_poll_init", NULL, -r);
    return NULL;
  }
  w->poll.data = w;
  w->env = env;
  w->fd = fd;
  if (!open_watchers_add(w)) {
    w->finalized = true;  // not wrapped yet: the close callback frees it
    w->state = W_CLOSING;
    uv_close((uv_handle_t *)&w->poll, watcher_on_close);
    throw_errno(env, "watch", "uv_poll_init", NULL, EEXIST);
    return NULL;
  }
  w->state = W_OPEN;
  if (napi_wrap(env, self, w, watcher_finalize, NULL, NULL) != napi_ok) {
    w->finalized = true;  // nobody else owns it: the close callback frees it
    watcher_begin_close(w);
    throw_napi_failure(env, "watch");
    return NULL;
  }
  // From here on the object owns w; failures just close the handle.
  if (napi_create_reference(env, self, 1, &w->self) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &w->callback) != napi_ok ||
      napi_create_string_utf8(env, "warm.watch", NAPI_AUTO_LENGTH, &name) !=
          napi_ok ||
      napi_async_init(env, self, name, &w->async) != napi_ok) {
    throw_napi_failure(env, "watch");
    watcher_begin_close(w);
    return NULL;
  }
  return self;
}

napi_value js_watch(napi_env env, napi_callback_info info) {
  napi_value argv[2], ctor, obj;
  addon_data_t *d;
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  NAPI_OK(env, "watch", napi_get_instance_data(env, (void **)&d));
  NAPI_OK(env, "watch", napi_get_reference_value(env, d->watcher_ctor, &ctor));
  if (napi_new_instance(env, ctor, 2, argv, &obj) != napi_ok) {
    throw_napi_failure(env, "watch");
    return NULL;
  }
  return obj;
}

static void addon_data_free(napi_env env, void *data, void *hint) {
  (void)hint;
  addon_data_t *d = data;
  if (d->watcher_ctor) napi_delete_reference(env, d->watcher_ctor);
  free(d);
}

// Defines the Watcher class and keeps it as this env's instance data, where
// watch() finds it.
bool watcher_init(napi_env env) {
  napi_property_descriptor methods[] = {
      {"start", NULL, watcher_start, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, watcher_stop, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, watcher_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value ctor;
  if (napi_define_class(env, "Watcher", NAPI_AUTO_LENGTH, watcher_ctor, NULL,
                        3, methods, &ctor) != napi_ok) {
    throw_napi_failure(env, "init");
    return false;
  }
  addon_data_t *d = calloc(1, sizeof *d);
  if (!d) {
    throw_errno(env, "init", "calloc", NULL, ENOMEM);
    return false;
  }
  if (napi_set_instance_data(env, d, addon_data_free, NULL) != napi_ok) {
    free(d);
    throw_napi_failure(env, "init");
    return false;
  }
  if (napi_create_reference(env, ctor, 1, &d->watcher_ctor) != napi_ok) {
    throw_napi_failure(env, "init");
    return false;
  }
  return true;
}
