// getrlimits: the daemon's resource limits (its warm processes inherit them), in the protocol's order.
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/resource.h>

#include "addon.h"
#include "../../client-shim/request.h"

// getrlimits() -> [soft, hard, ...] for the resources the protocol lists, in
// its order; -1 for RLIM_INFINITY (protocol-spec, run request `rlimits`). The order
// is the shim's own (RLIMITS, client-shim/request.h): the daemon compares the
// caller's limits with these pairwise.
napi_value js_getrlimits(napi_env env, napi_callback_info info) {
  (void)info;
  static const int resources[NRLIMITS] = RLIMITS;
  napi_value out;
  NAPI_OK(env, "getrlimits", napi_create_array(env, &out));
  for (uint32_t i = 0; i < NRLIMITS; i++) {
    struct rlimit rl;
    if (getrlimit(resources[i], &rl) < 0) rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
    napi_value soft, hard;
    NAPI_OK(env, "getrlimits",
            napi_create_double(env, rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur, &soft));
    NAPI_OK(env, "getrlimits",
            napi_create_double(env, rl.rlim_max == RLIM_INFINITY ? -1 : (double)rl.rlim_max, &hard));
    NAPI_OK(env, "getrlimits", napi_set_element(env, out, 2 * i, soft));
    NAPI_OK(env, "getrlimits", napi_set_element(env, out, 2 * i + 1, hard));
  }
  return out;
}
