// A Node template's V8 flag hash, made a plain node's (adoptFlagHash).
//
// V8 stamps every code cache it makes (vm.Script's cachedData, Node's
// compile cache, v8-compile-cache as yarn and others use it) with a hash of
// the flags that differ from their defaults, and rejects a cache whose stamp
// differs from its own. A template runs with --single-threaded and a young
// generation floor (fresh-state.ts), which change that hash: a cache its
// children wrote was rejected by the user's direct runs and the other way
// round (each then compiled everything again and rewrote the cache), and a
// tool could see it (`script.cachedDataRejected`). The flags keep their
// values here (they keep the template single-threaded); only the hash is
// set to the one the same node computes with its default flags. Found by
// its value: V8 keeps it in one static word, which each flag change zeroes
// and the next Hash() call fills in again.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addon.h"

typedef void (*set_flags_fn)(const char *, size_t);
typedef uint32_t (*hash_fn)(void);

#define MAX_CANDIDATES 64

// The writable mappings of the object holding `symbol` (its .data and
// .bss: the object's rw-p ranges and the anonymous range right after them),
// scanned for aligned words equal to `value`. The object is known by the
// path of the mapping `symbol` is in.
static size_t find_words(const void *symbol, uint32_t value, uint32_t **out, size_t max) {
  FILE *maps = fopen("/proc/self/maps", "re");
  if (!maps) return 0;
  char line[PATH_MAX + 128], object[PATH_MAX + 128] = "";
  size_t n = 0;
  for (int pass = 0; pass < 2; pass++) {
    rewind(maps);
    bool after_object = false;
    while (fgets(line, sizeof line, maps)) {
      unsigned long start, end;
      char perms[5];
      int path_at = 0;
      if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &start, &end, perms, &path_at) < 3 || path_at == 0) continue;
      char *path = line + path_at;
      path[strcspn(path, "\n")] = '\0';
      if (pass == 0) {
        if ((uintptr_t)symbol >= start && (uintptr_t)symbol < end) {
          if (path[0] != '/') break;
          snprintf(object, sizeof object, "%s", path);
          break;
        }
        continue;
      }
      bool ours = strcmp(path, object) == 0;
      bool bss = after_object && path[0] == '\0';
      after_object = ours;
      if (!(ours || bss) || perms[0] != 'r' || perms[1] != 'w') continue;
      for (uint32_t *w = (uint32_t *)start; w < (uint32_t *)end && n < max; w++)
        if (*w == value) out[n++] = w;
    }
    if (object[0] == '\0') break;
  }
  fclose(maps);
  return n;
}

// What adopt() did, for restamp(): the word, and the hash it wrote there.
static uint32_t *stamped_word;
static uint32_t stamped_hash;
static hash_fn stamped_flag_hash;

// Sets `plain` (no JavaScript runs before `own` is set back: nothing reads
// the plain values), takes the hash, and writes it over the template's.
// True if the cache tag is then `plain_tag`; else everything is as it was.
static bool adopt(const char *plain, size_t plain_len, const char *own, size_t own_len, uint32_t plain_tag) {
  set_flags_fn set_flags = (set_flags_fn)dlsym(RTLD_DEFAULT, "_ZN2v82V818SetFlagsFromStringEPKcm");
  hash_fn flag_hash = (hash_fn)dlsym(RTLD_DEFAULT, "_ZN2v88internal8FlagList4HashEv");
  hash_fn version_tag = (hash_fn)dlsym(RTLD_DEFAULT, "_ZN2v814ScriptCompiler20CachedDataVersionTagEv");
  if (!set_flags || !flag_hash || !version_tag) return false;
  set_flags(plain, plain_len);
  uint32_t plain_hash = flag_hash();
  uint32_t *found[MAX_CANDIDATES];
  size_t n = find_words((const void *)flag_hash, plain_hash, found, MAX_CANDIDATES);
  set_flags(own, own_len);
  uint32_t own_hash = flag_hash();
  uint32_t *word = NULL;
  for (size_t i = 0; i < n; i++) {
    if (*found[i] != own_hash) continue;
    if (word) return false; // two words followed the hash: which one it is is unknown
    word = found[i];
  }
  if (!word) return false;
  *word = plain_hash;
  if (flag_hash() == plain_hash && version_tag() == plain_tag) {
    stamped_word = word;
    stamped_hash = plain_hash;
    stamped_flag_hash = flag_hash;
    return true;
  }
  *word = own_hash;
  return false;
}

// restampFlagHash() -> bool: after a flag change (which zeroes the word and
// makes the next Hash() compute the template's own hash again), the hash
// adoptFlagHash wrote, written again.
static napi_value js_restamp_flag_hash(napi_env env, napi_callback_info info) {
  (void)info;
  bool done = false;
  if (stamped_word) {
    stamped_flag_hash(); // fills the word in again, if a flag change zeroed it
    *stamped_word = stamped_hash;
    done = stamped_flag_hash() == stamped_hash;
  }
  napi_value result;
  NAPI_OK(env, "restampFlagHash", napi_get_boolean(env, done, &result));
  return result;
}

// adoptFlagHash(plainFlags, templateFlags, plainTag) -> bool
static napi_value js_adopt_flag_hash(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv, NULL)) return NULL;
  int64_t plain_tag;
  if (!arg_int(env, "adoptFlagHash", "plainTag", argv[2], 0, UINT32_MAX, &plain_tag)) return NULL;
  size_t plain_len = 0, own_len = 0;
  char *plain = arg_path(env, "adoptFlagHash", "plainFlags", argv[0], &plain_len);
  if (!plain) return NULL;
  char *own = arg_path(env, "adoptFlagHash", "templateFlags", argv[1], &own_len);
  if (!own) {
    free(plain);
    return NULL;
  }
  bool adopted = adopt(plain, plain_len, own, own_len, (uint32_t)plain_tag);
  free(plain);
  free(own);
  napi_value result;
  NAPI_OK(env, "adoptFlagHash", napi_get_boolean(env, adopted, &result));
  return result;
}

bool flag_hash_define(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"adoptFlagHash", NULL, js_adopt_flag_hash, NULL, NULL, NULL, napi_enumerable, NULL},
      {"restampFlagHash", NULL, js_restamp_flag_hash, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) == napi_ok;
}
