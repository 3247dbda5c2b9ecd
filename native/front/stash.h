/*
 * The caller's environment, kept away from our runtime (docs/build.md): every variable that Node,
 * libuv, OpenSSL or the glibc loader would obey (NODE_*, UV_*, OPENSSL_*, LD_*, GLIBC_TUNABLES,
 * FORCE_COLOR, SSL_CERT_DIR, SSL_CERT_FILE) is
 * renamed K8PSH_STASH_<NAME> before the runtime starts, so it changes nothing in k8psh itself; the
 * TypeScript side (src/runtime/caller-env.ts) restores the names in its view of the caller's
 * environment, which is what a command's specs forward. K8PSH_SELF (our real path) is added.
 * Variables already named K8PSH_STASH_* or K8PSH_SELF are stashed too, so the round trip is exact.
 */
#ifndef K8PSH_STASH_H
#define K8PSH_STASH_H

#include "shared.h" /* STASH_PREFIX, SELF_VARIABLE, STUB_CACHE_VARIABLE and the lists */

/* Whether the variable "NAME=value" (or "NAME") is one the runtime must not see under its name. */
int stash_wanted(const char *entry);

/*
 * A new environment: envp with the wanted variables renamed and any K8PSH_STUB_CACHE left out (only
 * the front says where the stub table goes, docs/native-stubs.md), then K8PSH_SELF=self, then
 * K8PSH_STUB_CACHE=stub_cache when stub_cache is not NULL. NULL: no memory.
 */
char **stash_environment(char *const envp[], const char *self, const char *stub_cache);

#endif
