// Taking on a caller's run request in a warm process: takeRequest (environment, umask, argv) and chdir.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addon.h"
#include "run_view.h"
#include "../../client-shim/msgpack.h"

// The whole environment becomes the caller's raw entries, in their order
// and with any duplicate names, as execve would have passed them: getenv
// (and so process.env) then sees the first of duplicates, as in a direct
// run. Entries with a NUL or without '=' are skipped (execve's caller could
// not have passed them either). Everything is copied before environ changes;
// the copies are leaked on purpose: a warm process takes on one request and
// exits. Not thread-safe (no setenv or getenv is): called while nothing else
// runs. 0 or ENOMEM.
static int replace_environ(const struct span *entries, uint32_t n) {
  char **list = calloc((size_t)n + 1, sizeof *list);
  if (!list) return ENOMEM;
  uint32_t kept = 0;
  for (uint32_t i = 0; i < n; i++) {
    const struct span *e = &entries[i];
    if (memchr(e->data, '\0', e->len) || !memchr(e->data, '=', e->len)) continue;
    char *s = malloc((size_t)e->len + 1);
    if (!s) {
      for (uint32_t j = 0; j < kept; j++) free(list[j]);
      free(list);
      return ENOMEM;
    }
    memcpy(s, e->data, e->len);
    s[e->len] = '\0';
    list[kept++] = s;
  }
  list[kept] = NULL;
  environ = list;
  return 0;
}

// takeRequest(payload: Buffer): { argv: string[], cwd: Buffer }
// A warm process takes on a run request (the shim's payload, as the daemon
// forwarded it): the caller's environment (raw bytes, see replace_environ)
// and umask are set here; argv comes back decoded as Node decodes its own
// (UTF-8, U+FFFD for invalid bytes), and the cwd as bytes for chdir().
// Parsed in C: decoding ~100 env entries into Buffers in the fresh process
// was a quarter of a millisecond of every warm run. A malformed payload
// throws with `code` the spec's error name; nothing is changed then.
napi_value js_take_request(napi_env env, napi_callback_info info) {
  napi_value argv[1], result, list, str, cwd;
  char *data;
  size_t len;
  const char *bad;
  struct run_view v;
  if (!get_args(env, info, 1, argv, NULL) ||
      !arg_buffer(env, "takeRequest", "payload", argv[0], &data, &len))
    return NULL;
  int err = run_view_parse((const uint8_t *)data, len, &v, &bad);
  if (err == WIRE_IO) {
    throw_errno(env, "takeRequest", "malloc", NULL, errno);
    return NULL;
  }
  if (err != WIRE_OK) {
    char msg[128];
    snprintf(msg, sizeof msg, "takeRequest: %s%s%s", wire_err_name(err),
             bad ? " in " : "", bad ? bad : "");
    napi_throw_error(env, wire_err_name(err), msg);
    return NULL;
  }
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_array_with_length(env, v.argc, &list) != napi_ok)
    goto napi_failed;
  for (uint32_t i = 0; i < v.argc; i++) {
    if (napi_create_string_utf8(env, (const char *)v.argv[i].data, v.argv[i].len, &str) != napi_ok ||
        napi_set_element(env, list, i, str) != napi_ok)
      goto napi_failed;
  }
  if (napi_create_buffer_copy(env, v.cwd.len, v.cwd.data, NULL, &cwd) != napi_ok ||
      napi_set_named_property(env, result, "argv", list) != napi_ok ||
      napi_set_named_property(env, result, "cwd", cwd) != napi_ok)
    goto napi_failed;
  // Last, once nothing else can fail.
  err = replace_environ(v.env, v.envc);
  run_view_free(&v);
  if (err != 0) {
    throw_errno(env, "takeRequest", "malloc", NULL, err);
    return NULL;
  }
  umask((mode_t)v.umask);
  return result;

napi_failed:
  run_view_free(&v);
  throw_napi_failure(env, "takeRequest");
  return NULL;
}

// chdir(path: Buffer). Node caches process.cwd() and only forgets it in
// process.chdir(), so after a successful chdir we call process.chdir(".")
// (a no-op that drops the cache). Where that is unavailable (workers), the
// failure is ignored.
napi_value js_chdir(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char *data;
  size_t len;
  if (!get_args(env, info, 1, argv, NULL) ||
      !arg_buffer(env, "chdir", "path", argv[0], &data, &len))
    return NULL;
  if (memchr(data, '\0', len)) {
    throw_arg(env, "chdir", "path", "free of NUL bytes");
    return NULL;
  }
  char *path = malloc(len + 1);
  if (!path) {
    throw_errno(env, "chdir", "malloc", NULL, ENOMEM);
    return NULL;
  }
  memcpy(path, data, len);
  path[len] = '\0';
  if (chdir(path) != 0) {
    throw_errno(env, "chdir", "chdir", path, errno);
    free(path);
    return NULL;
  }
  free(path);

  napi_value global, process, fn, dot, ignored;
  napi_valuetype t;
  if (napi_get_global(env, &global) == napi_ok &&
      napi_get_named_property(env, global, "process", &process) == napi_ok &&
      napi_typeof(env, process, &t) == napi_ok && t == napi_object &&
      napi_get_named_property(env, process, "chdir", &fn) == napi_ok &&
      napi_typeof(env, fn, &t) == napi_ok && t == napi_function &&
      napi_create_string_utf8(env, ".", 1, &dot) == napi_ok &&
      napi_call_function(env, process, fn, 1, &dot, &ignored) != napi_ok) {
    napi_get_and_clear_last_exception(env, &ignored);
  }
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
    napi_get_and_clear_last_exception(env, &ignored);
  return make_undefined(env);
}
