/*
 * The private cache directories of this user, in the order docs/build.md gives them:
 * $K8PSH_CACHE_DIR, $XDG_CACHE_HOME/k8psh, $HOME/.cache/k8psh, $TMPDIR/k8psh-<uid>,
 * /tmp/k8psh-<uid> (src/shared-rules.ts); a relative value is skipped. Used for an unpacked runtime (runtime.h) and for the compiled stub table
 * (table.h, docs/native-stubs.md): both must agree on where "the first private directory" is.
 */
#ifndef K8PSH_CACHE_H
#define K8PSH_CACHE_H

#include <stddef.h>

/*
 * Candidate `index` (0, 1, ...) as a directory path in out, made private: ours, a real directory
 * (not a symlink), mode 0700. A missing one is created when `create` is set; without it, a missing
 * one that mkdir -p could make counts as found and is left for the writer to make (a stub call
 * writes nothing). Returns 1 when out is such a directory, 0 when this candidate is not set or
 * unusable (errno says why, or is untouched when not set), -1 past the last candidate.
 */
int cache_directory(int index, char *out, size_t size, int create);

#endif
