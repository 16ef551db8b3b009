// The pages a forked Node child takes from its template on its run's time
// (runs in the child). fork() shares the template's memory: the child's
// first write to a page copies it (a copy-on-write fault, ~2.5 us here),
// and its first touch of a page of a file mapping (node's own text and
// read-only data, which fork leaves unmapped) maps it. The 300-module CLI's
// run took ~560 such faults. So, as the Python runtime does
// (daemon/python/_warm_runtime/pages.py): a template's first children
// report, once the shim has their status, which pages they wrote or mapped
// since the fork (/proc/self/pagemap); the daemon hands the union of those
// lists (runtimes/touched-pages.ts) to the template's later children, and
// each faults those pages in (as a write or a read would, contents
// unchanged) while it waits, so the copies are made off the caller's time,
// and only of pages a run copies anyway. A waiting child stops as soon as
// its run arrives.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../client-shim/msgpack.h"
#include "addon.h"

#define PM_PRESENT (1ULL << 63)
#define PM_EXCLUSIVE (1ULL << 56)  // mapped by this process alone: written since the fork, or new
#define MAX_PAGES (1u << 16)       // 256 MiB of 4 KiB pages at most
#define MAX_REGIONS 8192
#define CHECK_EVERY 64  // pages between two looks at the link

// Linux 5.14: fault pages in as a read or a write would, without the access
// (a page past the end of its file fails with EFAULT rather than SIGBUS).
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

struct region {
  uintptr_t lo, hi;  // page numbers, [lo, hi)
  bool writable;     // private and writable: a write copies it
  bool file;         // a file's pages, not anonymous memory
};

static long page_size(void) {
  static long size;
  if (!size) size = sysconf(_SC_PAGESIZE);
  return size;
}

// The readable private mappings of this process, in address order: all but
// shared ones (a write would reach the file or other processes) and the
// kernel's and the stack's ([vdso], [stack], ...; [heap] is malloc's).
static size_t read_regions(struct region *out, size_t max) {
  FILE *f = fopen("/proc/self/maps", "re");
  if (!f) return 0;
  char *line = NULL;
  size_t cap = 0, n = 0;
  long page = page_size();
  while (n < max && getline(&line, &cap, f) > 0) {
    uintptr_t lo, hi;
    char perms[5];
    unsigned long long inode;
    int name = 0;
    if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %4s %*x %*x:%*x %llu %n", &lo, &hi, perms, &inode, &name) < 4) continue;
    const char *path = name > 0 ? line + name : "";
    if (perms[0] != 'r' || perms[3] != 'p') continue;
    if (path[0] == '[' && strncmp(path, "[heap]", 6) != 0) continue;
    out[n++] = (struct region){(uintptr_t)lo / (uintptr_t)page, (uintptr_t)hi / (uintptr_t)page, perms[1] == 'w', inode != 0};
  }
  free(line);
  fclose(f);
  return n;
}

// Whether page `entry` of `r` is one a run took: a private copy (written, or
// new) of memory that can be copied; or a file page it mapped (not copied
// at fork, so present only if touched since).
static bool taken(const struct region *r, uint64_t entry) {
  if (!(entry & PM_PRESENT)) return false;
  return r->file && !r->writable ? true : (entry & PM_EXCLUSIVE) != 0;
}

// A growing list of pairs (first page, count).
struct pairs {
  uint64_t *at;
  size_t n, cap, pages;
};

static bool add_run(struct pairs *out, uintptr_t first, uintptr_t end) {
  if (out->n + 2 > out->cap) {
    size_t cap = out->cap ? out->cap * 2 : 256;
    uint64_t *grown = realloc(out->at, cap * sizeof *grown);
    if (!grown) return false;
    out->at = grown;
    out->cap = cap;
  }
  out->at[out->n++] = first;
  out->at[out->n++] = end - first;
  out->pages += end - first;
  return true;
}

static struct region regions[MAX_REGIONS];

// The pages this process took since its fork (at most MAX_PAGES), as pairs
// in address order. False if /proc cannot tell or memory ran out.
static bool touched(struct pairs *out) {
  size_t nregions = read_regions(regions, MAX_REGIONS);
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = true;
  uint64_t entries[512];
  for (size_t i = 0; ok && i < nregions && out->pages < MAX_PAGES; i++) {
    const struct region *r = &regions[i];
    uintptr_t run = 0;  // first page of the run being gathered, 0 for none
    uintptr_t page = r->lo;
    while (ok && page < r->hi) {
      size_t want = r->hi - page < 512 ? r->hi - page : 512;
      ssize_t got = pread(fd, entries, want * sizeof entries[0], (off_t)(page * sizeof entries[0]));
      if (got <= 0) break;
      for (size_t j = 0; ok && j < (size_t)got / sizeof entries[0]; j++, page++) {
        bool mine = taken(r, entries[j]);
        if (mine && !run) run = page;
        if (!mine && run) {
          ok = add_run(out, run, page);
          run = 0;
        }
      }
    }
    if (ok && run) ok = add_run(out, run, page);
  }
  close(fd);
  return ok;
}

static bool report_asked;

// The `touched` frame (length prefix included) for this process now, or NULL.
char *pages_touched_frame(size_t *len) {
  if (!report_asked) return NULL;
  struct pairs got = {0};
  if (!touched(&got)) {
    free(got.at);
    return NULL;
  }
  uint64_t *pairs = got.at;
  size_t n = got.n;
  size_t size = mp_size_map(2) + mp_size_str(1) + mp_size_str(7) + mp_size_str(5) + mp_size_array(n);
  for (size_t i = 0; i < n; i++) size += mp_size_int((int64_t)pairs[i]);
  uint8_t *frame = malloc(4 + size);
  if (!frame) {
    free(pairs);
    return NULL;
  }
  uint8_t *p = frame + 4;
  p = mp_put_map(p, 2);
  p = mp_put_cstr(p, "t");
  p = mp_put_cstr(p, "touched");
  p = mp_put_cstr(p, "pages");
  p = mp_put_array(p, n);
  for (size_t i = 0; i < n; i++) p = mp_put_int(p, (int64_t)pairs[i]);
  free(pairs);
  frame[0] = (uint8_t)(size >> 24);
  frame[1] = (uint8_t)(size >> 16);
  frame[2] = (uint8_t)(size >> 8);
  frame[3] = (uint8_t)size;
  *len = 4 + size;
  return (char *)frame;
}

// reportTouchedAtExit(): this process's exit (exitNow, exitAfterFatal) also
// sends `touched` on the runtime link, after `closed`.
static napi_value js_report_touched_at_exit(napi_env env, napi_callback_info info) {
  (void)info;
  report_asked = true;
  return make_undefined(env);
}

static bool link_readable(int link) {
  struct pollfd pfd = {.fd = link, .events = POLLIN};
  return poll(&pfd, 1, 0) > 0;
}

// Touches pages [from, to) of region r: a writable one as a write would (its
// copy is made), another as a read would (it is mapped); contents unchanged.
static void touch(const struct region *r, uintptr_t from, uintptr_t to) {
  static bool by_hand;  // a kernel without MADV_POPULATE_*
  long page = page_size();
  if (!by_hand) {
    int advice = r->writable ? MADV_POPULATE_WRITE : MADV_POPULATE_READ;
    if (madvise((void *)(from * (uintptr_t)page), (to - from) * (size_t)page, advice) == 0 || errno != EINVAL) return;
    by_hand = true;
  }
  for (uintptr_t p = from; p < to; p++) {
    volatile uint8_t *byte = (volatile uint8_t *)(p * (uintptr_t)page);
    if (r->writable)
      __atomic_fetch_add(byte, 0, __ATOMIC_RELAXED);  // atomic: a byte another write changes meanwhile keeps that write
    else if (!r->file)
      (void)*byte;  // (by hand, a file page past the file's end would raise SIGBUS: left alone)
  }
}

// prefault(pages, link) -> how many pages it touched: for each pair (first
// page, count) of pages, the part inside a readable private mapping of this
// process now, as touch() does, CHECK_EVERY pages at a time. Returns early
// once `link` is readable (the run has come).
static napi_value js_prefault(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int link;
  bool is_array = false;
  uint32_t n = 0;
  if (!get_args(env, info, 2, argv, NULL) || !arg_fd(env, "prefault", "link", argv[1], &link)) return NULL;
  if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[0], &n) != napi_ok) {
    throw_arg(env, "prefault", "pages", "an array of integers");
    return NULL;
  }
  size_t nregions = read_regions(regions, MAX_REGIONS);
  int64_t done = 0;
  size_t r = 0;
  for (uint32_t i = 0; i + 1 < n; i += 2) {
    napi_value a, b;
    int64_t first, count;
    if (napi_get_element(env, argv[0], i, &a) != napi_ok || napi_get_element(env, argv[0], i + 1, &b) != napi_ok ||
        !arg_int(env, "prefault", "a page number", a, 0, INT64_MAX / 2, &first) ||
        !arg_int(env, "prefault", "a page count", b, 0, MAX_PAGES, &count))
      return NULL;
    uintptr_t lo = (uintptr_t)first, hi = (uintptr_t)(first + count);
    if (r > 0 && regions[r - 1].hi > lo) r = 0;  // out of order: look from the start
    for (; r < nregions && regions[r].hi <= lo; r++) {
    }
    for (size_t k = r; k < nregions && regions[k].lo < hi; k++) {
      uintptr_t from = lo > regions[k].lo ? lo : regions[k].lo, to = hi < regions[k].hi ? hi : regions[k].hi;
      while (from < to) {
        uintptr_t upto = to - from > CHECK_EVERY ? from + CHECK_EVERY : to;
        touch(&regions[k], from, upto);
        done += (int64_t)(upto - from);
        from = upto;
        if (link_readable(link)) return make_int(env, done);
      }
    }
  }
  return make_int(env, done);
}

bool pages_define(napi_env env, napi_value exports) {
#define FN(name, cb) {name, NULL, cb, NULL, NULL, NULL, napi_enumerable, NULL}
  napi_property_descriptor fns[] = {
      FN("prefault", js_prefault),
      FN("reportTouchedAtExit", js_report_touched_at_exit),
  };
#undef FN
  return napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) == napi_ok;
}
