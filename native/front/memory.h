/*
 * The last resort, when no runtime is beside the executable and no cache directory can be written
 * (a read-only image with no /tmp, e.g. `docker run` of the FROM scratch image): every runtime file
 * is copied into an anonymous memory file (memfd) and the loader runs them by their
 * /proc/self/fd/N names. Each call then costs the copy (~111 MB of memory while the process lives,
 * some 50-100 ms): fine for `--version` or a one-off, not for a Pod, where --install puts the
 * runtime beside the executable.
 */
#ifndef K8PSH_MEMORY_H
#define K8PSH_MEMORY_H

#include "payload.h"

/*
 * Tells the runtime which descriptors hold which file ("node=3,libc.so.6=4,..."): it closes them
 * once started (keeping its own close-on-exec copies of the addons), so no command inherits them.
 */
#define MEMORY_FDS_VARIABLE "K8PSH_FDS"

/* Runs node from memory files, as runtime_exec does from a directory. Returns only on failure. */
void runtime_exec_memory(const struct payload *payload, const char *argv0, int argc, char **argv,
                         char **env);

#endif
