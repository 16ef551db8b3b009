// Forking a Node template's children; the contract is in daemon/src/native.ts.
//
// A Node process can fork if: V8's regions marked MADV_DONTFORK (smaps
// VmFlags `dc`) are marked MADV_DOFORK first (else the child faults at once
// on its code); the child calls uv_loop_fork(); it never returns through
// Node's teardown (it _exits, see exitNow); and no thread the child would
// need is gone. The template runs with --single-threaded, so V8 posts no
// work to Node's platform threads: they exist (Node starts them whatever
// the flags) but sleep forever. forkBaseline() records them, with libuv's
// thread pool started, before any of the tool's modules load; forkChild()
// refuses if another thread appeared since (a module started one) or if a
// libuv request is in flight (its thread-pool work would be lost: libuv
// resets its pool in the child through pthread_atfork).
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "addon.h"

#define MAX_THREADS 256
#define MAX_CHILDREN 1024

// Worker tasks in a child. V8 posts tasks to Node's platform threads even
// under --single-threaded (a full GC's parallel jobs, which the main thread
// also joins and finishes), and when the loop empties Node waits until
// every posted task has run: in a child, which has none of those threads,
// forever. So the child's NodePlatform vtable slots for posting worker
// tasks (found in the template, written in the child's copy of the page)
// queue them instead, and they run on the child's own thread from its loop
// (a job's extra workers then find nothing left and return).
#define MAX_TASKS 1024
static void **worker_slot, **delayed_slot;
static void *tasks[MAX_TASKS];
static size_t ntasks;
static uv_idle_t task_idle;

// A v8::Task's vtable: [0] destructor, [1] deleting destructor, [2] Run.
static void run_and_delete(void *task) {
  void **vtable = *(void ***)task;
  ((void (*)(void *))vtable[2])(task);
  ((void (*)(void *))vtable[1])(task);
}

static void run_tasks(uv_idle_t *idle) {
  uv_idle_stop(idle);
  for (size_t i = 0; i < ntasks; i++) {
    void *task = tasks[i];
    tasks[i] = NULL;
    run_and_delete(task);
  }
  ntasks = 0;
}

// NodePlatform::CallOnWorkerThread(std::unique_ptr<v8::Task>) in the child:
// the unique_ptr arrives by reference (Itanium ABI), and is taken over here.
static void queue_task(void *platform, void **task) {
  (void)platform;
  void *t = *task;
  *task = NULL;
  if (!t) return;
  if (ntasks == MAX_TASKS) run_tasks(&task_idle);
  tasks[ntasks++] = t;
  uv_idle_start(&task_idle, run_tasks);
}

static void queue_delayed_task(void *platform, void **task, double delay) {
  (void)delay;
  queue_task(platform, task);
}

// The vtable slot of NodePlatform holding `fn`, or NULL.
static void **platform_slot(const char *fn) {
  void **vtable = dlsym(RTLD_DEFAULT, "_ZTVN4node12NodePlatformE");
  void *target = dlsym(RTLD_DEFAULT, fn);
  if (!vtable || !target) return NULL;
  for (int i = 2; i < 64; i++)
    if (vtable[i] == target) return &vtable[i];
  return NULL;
}

static bool write_slot(void **slot, void *value) {
  long page = sysconf(_SC_PAGESIZE);
  void *start = (void *)((uintptr_t)slot & ~(uintptr_t)(page - 1));
  size_t len = (uintptr_t)(slot + 1) - (uintptr_t)start > (size_t)page ? 2 * (size_t)page : (size_t)page;
  if (mprotect(start, len, PROT_READ | PROT_WRITE) != 0) return false;
  *slot = value;
  mprotect(start, len, PROT_READ);
  return true;
}

static pid_t baseline[MAX_THREADS];
static size_t nbaseline;
static bool have_baseline;

// Children alive, with a pidfd each (readable once the child has ended).
static struct {
  pid_t pid;
  int pidfd;
} kids[MAX_CHILDREN];
static size_t nkids;

// A forked child's parent is its template: a tool telling its parent
// something (kill(getppid(), SIGUSR1), as some tell the process that
// started them they are ready) must not end the template (these signals'
// default action) or open Node's inspector in it (SIGUSR1's handler). The
// template ignores them from its first fork on; each child gets back the
// dispositions the template had (Node's own, a preloaded module's).
static const int shielded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM};
#define NSHIELDED (sizeof(shielded) / sizeof(shielded[0]))
static struct sigaction unshielded[NSHIELDED];
static bool shielding;

static void shield_signals(void) {
  struct sigaction ignore;
  memset(&ignore, 0, sizeof ignore);
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  for (size_t i = 0; i < NSHIELDED; i++) sigaction(shielded[i], &ignore, &unshielded[i]);
  shielding = true;
}

static void unshield_signals(void) {
  for (size_t i = 0; i < NSHIELDED; i++) sigaction(shielded[i], &unshielded[i], NULL);
  shielding = false;
}

// The thread ids of this process; -1 if /proc cannot be read or there are too many.
static ssize_t list_threads(pid_t *out, size_t max) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (n == max) {
      closedir(d);
      return -1;
    }
    out[n++] = (pid_t)atoi(e->d_name);
  }
  closedir(d);
  return (ssize_t)n;
}

static void noop_work(uv_work_t *req) { (void)req; }
static void noop_after(uv_work_t *req, int status) {
  (void)status;
  *(bool *)req->data = true;
}

// forkBaseline() -> number of threads. Starts libuv's thread pool (so its
// threads are part of the baseline rather than appearing later) and records
// every thread that exists now.
static napi_value js_fork_baseline(napi_env env, napi_callback_info info) {
  (void)info;
  uv_loop_t *loop = NULL;
  NAPI_OK(env, "forkBaseline", napi_get_uv_event_loop(env, &loop));
  bool done = false;
  uv_work_t req = {.data = &done};
  int err = uv_queue_work(loop, &req, noop_work, noop_after);
  if (err != 0) {
    throw_errno(env, "forkBaseline", "uv_queue_work", NULL, -err);
    return NULL;
  }
  while (!done) uv_run(loop, UV_RUN_ONCE);
  ssize_t n = list_threads(baseline, MAX_THREADS);
  if (n < 0) {
    throw_errno(env, "forkBaseline", "opendir", "/proc/self/task", errno ? errno : EMFILE);
    return NULL;
  }
  nbaseline = (size_t)n;
  worker_slot = platform_slot("_ZN4node12NodePlatform18CallOnWorkerThreadESt10unique_ptrIN2v84TaskESt14default_deleteIS3_EE");
  delayed_slot = platform_slot("_ZN4node12NodePlatform25CallDelayedOnWorkerThreadESt10unique_ptrIN2v84TaskESt14default_deleteIS3_EEd");
  have_baseline = true;
  return make_int(env, n);
}

static void throw_unsafe(napi_env env, const char *why) {
  char msg[256];
  snprintf(msg, sizeof msg, "forkChild: not safe to fork: %s", why);
  napi_throw_error(env, "ENOTSAFE", msg);
}

// Why forking now would give a broken child, or NULL.
static const char *unsafe_now(uv_loop_t *loop) {
  if (!have_baseline) return "forkBaseline() was not called";
  if (!worker_slot || !delayed_slot) return "this node binary does not export NodePlatform's worker-task functions";
  if (loop->active_reqs.count != 0) return "a libuv request is in flight (async I/O started while loading)";
  pid_t now[MAX_THREADS];
  ssize_t n = list_threads(now, MAX_THREADS);
  if (n < 0) return "cannot list this process's threads";
  for (ssize_t i = 0; i < n; i++) {
    bool known = false;
    for (size_t k = 0; k < nbaseline && !known; k++) known = baseline[k] == now[i];
    if (!known) return "a thread was started while loading (by a module or a worker)";
  }
  return NULL;
}

// Whether a thread of the baseline other than this one is runnable (state
// R in /proc); unsafe_now() has checked there are no others.
static bool another_thread_runnable(void) {
  pid_t self = (pid_t)syscall(SYS_gettid);
  for (size_t i = 0; i < nbaseline; i++) {
    if (baseline[i] == self) continue;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)baseline[i]);
    FILE *f = fopen(path, "re");
    if (!f) continue;  // the thread ended
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    const char *close_paren = strrchr(buf, ')');
    if (close_paren && close_paren[1] == ' ' && close_paren[2] == 'R') return true;
  }
  return false;
}

// Waits until Node's platform threads are idle. Tasks V8 posted to them in
// the template (a collection's parallel jobs: the full GC before ready)
// count as outstanding until a platform thread has run them; a child forked
// before that inherits the count but not the threads, and Node, draining
// platform tasks as its loop empties, then waits forever (a hang after the
// tool's last output). A platform thread sleeps only when its queue is empty
// and its task done, and one woken by a post is runnable until then: so no
// runnable thread here (this one is in the addon, posting nothing) means no
// outstanding task. Returns NULL, or why it gave up.
static const char *wait_platform_idle(void) {
  for (int tries = 0; tries < 4000; tries++) {  // ~2 s: these are short tasks waiting for a CPU
    if (!another_thread_runnable()) return NULL;
    struct timespec pause = {0, 500000};
    nanosleep(&pause, NULL);
  }
  return "Node's platform threads are still running tasks V8 posted (2 s)";
}

// madvise(MADV_DOFORK) on every mapping whose VmFlags have `dc` (V8 marks
// its code and some heap regions MADV_DONTFORK), read from smaps. Returns 0
// or an errno.
static int map_dontfork_regions_by_flags(void) {
  FILE *f = fopen("/proc/self/smaps", "re");
  if (!f) return errno;
  char *line = NULL;
  size_t cap = 0;
  unsigned long start = 0, end = 0;
  int err = 0;
  while (getline(&line, &cap, f) > 0) {
    unsigned long a, b;
    if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
      start = a;
      end = b;
    } else if (strncmp(line, "VmFlags:", 8) == 0 && strstr(line, " dc") != NULL && end > start) {
      if (madvise((void *)start, end - start, MADV_DOFORK) != 0 && err == 0) err = errno;
    }
  }
  free(line);
  fclose(f);
  return err;
}

// The same for every fork, without smaps: smaps walks the page tables of
// every mapping to count its pages, which made it the template's largest
// cost per fork (profiled under 64 callers at once: ~2 ms of a ~3.5 ms
// fork for a 60 MB template, and it grows with the template's RSS). So
// every mapping listed in /proc/self/maps (no page walk) gets
// MADV_DOFORK: on one without `dc` that changes nothing. The kernel's own
// [vvar], [vdso] and [vsyscall] are left alone (never marked; [vsyscall]
// is no mapping madvise knows). The kernel refuses MADV_DOFORK (EINVAL)
// only on VM_IO mappings, which V8 never marks: if one is met, the marked
// mappings are found through smaps as before.
static int map_dontfork_regions(void) {
  FILE *f = fopen("/proc/self/maps", "re");
  if (!f) return errno;
  char *line = NULL;
  size_t cap = 0;
  int err = 0;
  bool io_mapping = false;
  while (getline(&line, &cap, f) > 0) {
    unsigned long start, end;
    int name_at = 0;
    if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &start, &end, &name_at) < 2 || end <= start) continue;
    if (name_at > 0 && strncmp(line + name_at, "[v", 2) == 0) continue;
    if (madvise((void *)start, end - start, MADV_DOFORK) == 0) continue;
    if (errno == EINVAL)
      io_mapping = true;
    else if (err == 0)
      err = errno;
  }
  free(line);
  fclose(f);
  return err == 0 && io_mapping ? map_dontfork_regions_by_flags() : err;
}

// forkChild() -> the child's pid in the template, 0 in the child. The child
// is in its own process group, in its template's session (see
// ownProcessGroup in lifetime.c), its loop is its own
// (uv_loop_fork), it holds none of the template's pidfds, and it dies
// with the template (PR_SET_PDEATHSIG, SIGKILL). Throws
// (code ENOTSAFE) when forking now would give a broken child, or with the
// errno of a failed fork (EAGAIN under RLIMIT_NPROC).
static napi_value js_fork_child(napi_env env, napi_callback_info info) {
  (void)info;
  uv_loop_t *loop = NULL;
  NAPI_OK(env, "forkChild", napi_get_uv_event_loop(env, &loop));
  const char *why = unsafe_now(loop);
  if (why) {
    throw_unsafe(env, why);
    return NULL;
  }
  if (nkids == MAX_CHILDREN) {
    throw_errno(env, "forkChild", "fork", "(too many children)", EAGAIN);
    return NULL;
  }
  const char *busy = wait_platform_idle();
  if (busy) {
    char msg[256];
    snprintf(msg, sizeof msg, "forkChild: not now: %s", busy);
    napi_throw_error(env, "EBUSY", msg);
    return NULL;
  }
  int err = map_dontfork_regions();
  if (err != 0) {
    throw_errno(env, "forkChild", "madvise", "MADV_DOFORK", err);
    return NULL;
  }
  if (!shielding) shield_signals();
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    throw_errno(env, "forkChild", "fork", NULL, errno);
    return NULL;
  }
  if (pid == 0) {
    for (size_t i = 0; i < nkids; i++) close(kids[i].pidfd);
    nkids = 0;
    have_baseline = false;  // a child never forks
    unshield_signals();
    if (uv_loop_fork(loop) != 0 || setpgid(0, 0) < 0 || uv_idle_init(loop, &task_idle) != 0 ||
        !write_slot(worker_slot, (void *)queue_task) || !write_slot(delayed_slot, (void *)queue_delayed_task))
      _exit(70);
    // Like the template, it ends with the daemon (the template dies with
    // it): a template gone before this line leaves it to exit at once.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(0);
    return make_int(env, 0);
  }
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) {
    int e = errno;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    throw_errno(env, "forkChild", "pidfd_open", NULL, e);
    return NULL;
  }
  kids[nkids].pid = pid;
  kids[nkids].pidfd = pidfd;
  nkids++;
  return make_int(env, pid);
}

// forkWait(link) -> null once link is readable (or closed), or
// {pid, code | signal, cpuUs} for a child that ended first (reaped here,
// with the CPU time it used).
static napi_value js_fork_wait(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int link;
  if (!get_args(env, info, 1, argv, NULL) || !arg_fd(env, "forkWait", "link", argv[0], &link)) return NULL;
  struct pollfd fds[MAX_CHILDREN + 1];
  for (;;) {
    fds[0] = (struct pollfd){.fd = link, .events = POLLIN};
    for (size_t i = 0; i < nkids; i++) fds[i + 1] = (struct pollfd){.fd = kids[i].pidfd, .events = POLLIN};
    if (poll(fds, nkids + 1, -1) < 0) {
      if (errno == EINTR) continue;
      throw_errno(env, "forkWait", "poll", NULL, errno);
      return NULL;
    }
    for (size_t i = 0; i < nkids; i++) {
      if (!fds[i + 1].revents) continue;
      int status = 0;
      struct rusage ru;
      pid_t got = wait4(kids[i].pid, &status, WNOHANG, &ru);
      if (got == 0) continue;
      pid_t pid = kids[i].pid;
      close(kids[i].pidfd);
      kids[i] = kids[--nkids];
      if (got < 0) continue;  // not ours to reap after all
      napi_value out;
      NAPI_OK(env, "forkWait", napi_create_object(env, &out));
      int64_t cpu = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
      if (!set_int_prop(env, out, "pid", pid) || !set_int_prop(env, out, "cpuUs", cpu) ||
          !(WIFSIGNALED(status) ? set_int_prop(env, out, "signal", WTERMSIG(status))
                                : set_int_prop(env, out, "code", WEXITSTATUS(status)))) {
        throw_napi_failure(env, "forkWait");
        return NULL;
      }
      return out;
    }
    if (fds[0].revents) return make_null(env);
  }
}

// resetStartTime() -> whether it could: process.uptime() of a forked child
// counts from now, as a fresh process's counts from its start (Node keeps
// its start time in node::per_process::node_start_time, an exported symbol).
static napi_value js_reset_start_time(napi_env env, napi_callback_info info) {
  (void)info;
  uint64_t *start = dlsym(RTLD_DEFAULT, "_ZN4node11per_process15node_start_timeE");
  if (start) *start = uv_hrtime();
  napi_value out;
  NAPI_OK(env, "resetStartTime", napi_get_boolean(env, start != NULL, &out));
  return out;
}

// pendingRequests() -> libuv requests in flight on this loop (async fs, dns, work).
static napi_value js_pending_requests(napi_env env, napi_callback_info info) {
  (void)info;
  uv_loop_t *loop = NULL;
  NAPI_OK(env, "pendingRequests", napi_get_uv_event_loop(env, &loop));
  return make_int(env, loop->active_reqs.count);
}

// loopAlive() -> uv_loop_alive: the loop has active handles or requests,
// i.e. turning it (runLoopOnce) can still complete something.
static napi_value js_loop_alive(napi_env env, napi_callback_info info) {
  (void)info;
  uv_loop_t *loop = NULL;
  napi_value out;
  NAPI_OK(env, "loopAlive", napi_get_uv_event_loop(env, &loop));
  NAPI_OK(env, "loopAlive", napi_get_boolean(env, uv_loop_alive(loop) != 0, &out));
  return out;
}

static napi_value js_getppid(napi_env env, napi_callback_info info) {
  (void)info;
  return make_int(env, getppid());
}

bool fork_define(napi_env env, napi_value exports) {
#define FN(name, cb) {name, NULL, cb, NULL, NULL, NULL, napi_enumerable, NULL}
  napi_property_descriptor fns[] = {
      FN("forkBaseline", js_fork_baseline),
      FN("forkChild", js_fork_child),
      FN("forkWait", js_fork_wait),
      FN("resetStartTime", js_reset_start_time),
      FN("getppid", js_getppid),
      FN("pendingRequests", js_pending_requests),
      FN("loopAlive", js_loop_alive),
  };
#undef FN
  return napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) == napi_ok;
}
