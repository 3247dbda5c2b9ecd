/*
 * The working directory a stub sends: the current one relative to the configured base directory,
 * as src/client/workdir.ts computes it (docs/session.md, "The client's steps"; cross-checked by
 * test/front/shared-rules.test.ts).
 */
#ifndef K8PSH_WORKDIR_H
#define K8PSH_WORKDIR_H

#include <stddef.h>

/* cwd (absolute, physical) relative to base (base_size bytes, no NUL needed): a suffix of cwd, "" for
   the base itself, or NULL when cwd is outside it. */
const char *workdir_relative(const char *cwd, const char *base, size_t base_size);

#endif
