/*
 * The private cache directories of this user, in the order docs/build.md gives them:
 * $K8PSH_CACHE_DIR, $XDG_CACHE_HOME/k8psh, $HOME/.cache/k8psh, $TMPDIR/k8psh-<uid>,
 * /tmp/k8psh-<uid>. Used for an unpacked runtime (runtime.h) and for the compiled stub table
 * (table.h, docs/native-stubs.md): both must agree on where "the first private directory" is.
 */
#ifndef K8PSH_CACHE_H
#define K8PSH_CACHE_H

#include <stddef.h>

/*
 * Candidate `index` (0, 1, ...) as a directory path in out, created if needed and made private:
 * ours, a real directory (not a symlink), mode 0700. Returns 1 when out is such a directory, 0 when
 * this candidate is not set or unusable (errno says why, or is untouched when not set), -1 past the
 * last candidate.
 */
int cache_directory(int index, char *out, size_t size);

#endif
