/*
 * The K8PSH_* variables a stub obeys, read as src/switches.ts reads them: the same names (SWITCH_*
 * of shared.h, generated from that file) and the same meanings, cross-checked by
 * test/front/shared-rules.test.ts. Each reader takes the variable's value, NULL when unset.
 */
#ifndef K8PSH_SWITCHES_H
#define K8PSH_SWITCHES_H

#include "shared.h"

enum native_switch { NATIVE_AUTO, NATIVE_ONLY, NATIVE_NEVER };
enum stdin_switch { STDIN_INHERIT, STDIN_NULL, STDIN_INVALID };

/* K8PSH_NATIVE: 1 only the native stub, 0 never, anything else auto. */
enum native_switch switch_native(const char *value);
/* K8PSH_TTY: 1 (1, true), 0 (0, false), -1 (the default choice). */
int switch_tty(const char *value);
/* K8PSH_DIRECT_STDIO: descriptors are passed unless it is 0. */
int switch_direct_stdio(const char *value);
/* K8PSH_STDIN: null, inherit (unset or empty), or invalid. */
enum stdin_switch switch_stdin(const char *value);
/* K8PSH_DEBUG: whether any debug output is asked for. */
int switch_debug(const char *value);

#endif
