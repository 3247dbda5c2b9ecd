/*
 * The native stub (docs/native-stubs.md): a stub call served without Node when the compiled table
 * says exactly what the TypeScript client would send; otherwise a hand-over to it, before anything
 * was sent (or after the server closed without a byte).
 */
#ifndef K8PSH_STUB_H
#define K8PSH_STUB_H

#include <stddef.h>
#include "payload.h"

/* Whether name (the invoked name) is a stub's (src/face.ts): none of OWN_NAMES, not a script (SCRIPT_SUFFIXES). */
int stub_name(const char *name);

/*
 * Runs the command natively when it can, and then never returns (the process ends as the command
 * did). Returns only to hand over: why (one line, naming the row of the doc's table), and in
 * cache the path the TypeScript client should write the table to (K8PSH_STUB_CACHE), or "" when
 * it should write none. Nothing is left open, and signals are as they were.
 */
const char *stub_run(const struct payload *payload, const char *name, int argc, char **argv, char **envp,
                     char *cache, size_t size);

#endif
