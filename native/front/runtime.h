/*
 * The runtime directory: the glibc loader, the libraries, the Node executable (with our code
 * injected) and the addons, unpacked from the payload. Its name carries the build id, so two
 * versions can sit side by side: <dir>/.k8psh-runtime-<id>.
 */
#ifndef K8PSH_RUNTIME_H
#define K8PSH_RUNTIME_H

#include <stddef.h>
#include "payload.h"

#define RUNTIME_PREFIX ".k8psh-runtime-"
/* The glibc loader bundled for the architecture the front is compiled for (scripts/targets.mjs). */
#if defined(__x86_64__)
#define RUNTIME_LOADER "ld-linux-x86-64.so.2"
#elif defined(__aarch64__)
#define RUNTIME_LOADER "ld-linux-aarch64.so.1"
#else
#error "no glibc loader name for this architecture (scripts/targets.mjs lists the targets)"
#endif
#define RUNTIME_NODE "node"

/* out = dir/.k8psh-runtime-<id>; 0, or -1 (ENAMETOOLONG). */
int runtime_path(const char *dir, const struct payload *payload, char *out, size_t size);

/* Whether dir holds an unpacked runtime (a loader and a node we may execute). */
int runtime_ready(const char *dir);

/*
 * Makes the runtime directory dir from the payload (entries) or, when it has none, from the runtime
 * directory source; atomically: a temporary directory beside it is filled, then renamed. A ready
 * dir is left as it is. 0, or -1 with errno set.
 */
int runtime_create(const char *dir, const struct payload *payload, const char *source);

/*
 * Finds a private cache directory for a runtime unpacked from the payload (when none is beside the
 * executable), creating and filling it if needed: $K8PSH_CACHE_DIR, $XDG_CACHE_HOME/k8psh,
 * $HOME/.cache/k8psh, then $TMPDIR/k8psh-<uid> and /tmp/k8psh-<uid>. Candidate `index` (0, 1, ...)
 * goes to out. Returns 1 when out is ready, 0 when that candidate is unusable (errno says why), -1
 * when there are no more candidates.
 */
int runtime_cached(int index, const struct payload *payload, char *out, size_t size);

/*
 * Runs node through the bundled loader: RT/RUNTIME_LOADER --library-path RT --argv0 ARGV0
 * RT/node ARGS..., with env. Returns only when execve fails (errno set).
 */
void runtime_exec(const char *dir, const char *argv0, int argc, char **argv, char **env);

#endif
