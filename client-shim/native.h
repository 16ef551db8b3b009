/* A native executable (ELF) that is not an interpreter warm runs warm:
 * the daemon would only answer `direct`, so the shim runs it at once and
 * spares every run of such a tool a daemon round trip (and a start). */
#ifndef WARM_NATIVE_H
#define WARM_NATIVE_H

/* True when exe starts with the ELF magic, neither its name nor its
 * realpath's names node or python (what the daemon runs warm), and the
 * config declares no coprocess (a native tool can be one). On any doubt
 * (unreadable file or config) false: the daemon decides. */
int native_direct(const char *exe);

#endif
