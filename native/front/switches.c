/* The stub's switches (switches.h), one reader each, as src/switches.ts has them. */
#include "switches.h"

#include <string.h>

static int is(const char *value, const char *text) { return value && strcmp(value, text) == 0; }

enum native_switch switch_native(const char *value) {
  return is(value, "1") ? NATIVE_ONLY : is(value, "0") ? NATIVE_NEVER : NATIVE_AUTO;
}

int switch_tty(const char *value) {
  if (is(value, "1") || is(value, "true")) return 1;
  if (is(value, "0") || is(value, "false")) return 0;
  return -1;
}

int switch_direct_stdio(const char *value) { return !is(value, "0"); }

enum stdin_switch switch_stdin(const char *value) {
  if (!value || !*value) return STDIN_INHERIT;
  return is(value, "null") ? STDIN_NULL : STDIN_INVALID;
}

int switch_debug(const char *value) { return value && *value; }
