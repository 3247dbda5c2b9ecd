/*
 * k8psh --install DIR/NAME (docs/session.md, "Faces"; the init container of a Pod), done by the front alone so that
 * it works in an image with nothing else (FROM scratch): DIR/.k8psh-runtime-<id>/ gets the runtime
 * (unpacked from our payload, or linked/copied from the runtime beside an installed copy), then
 * DIR/NAME the front executable without payload (a hard link of an installed copy, else a copy),
 * mode 0755. Both appear atomically (temporary names, then rename), the runtime first: whoever sees
 * DIR/NAME can run it. Other containers may mount DIR read-only at any path: nothing is written
 * there at run time.
 */
#ifndef K8PSH_INSTALL_H
#define K8PSH_INSTALL_H

#include "payload.h"

/* The target of `k8psh --install FILE` / `--install=FILE` when that is the whole command, else NULL. */
const char *install_target(const char *name, int argc, char **argv);

/* Installs self (described by payload) to target; 0, or -1 with errno set. */
int install(const char *self, const struct payload *payload, const char *target);

#endif
