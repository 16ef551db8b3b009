{
  "targets": [
    {
      "target_name": "warm_native",
      "sources": ["warm_native.c", "napi.c", "fdpass.c", "watcher.c", "fds.c", "pty.c", "take_request.c", "inotify.c", "pidfd.c", "rlimits.c", "lifetime.c", "exit.c", "fork.c", "pages.c", "flag_hash.c", "run_view.c", "../../client-shim/msgpack.c", "../../client-shim/fdmsg.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Werror"],
      "cflags_c": ["-std=gnu11"],
      "libraries": ["-ldl"]
    }
  ]
}
