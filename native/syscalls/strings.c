/* JavaScript strings and arrays of strings as C strings (addon.h), for spawn.c and beneath.c. */
#include <stdlib.h>

#include "addon.h"

/* A JavaScript string as a malloc'ed C string; NULL when it is not a string (or out of memory). */
char *addon_string(napi_env env, napi_value value) {
  size_t length;
  /* Not a string: the caller throws the TypeError. */
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) return NULL;
  char *text = malloc(length + 1);
  /* Out of memory (text NULL) falls through to return NULL; a failed copy frees what it took. */
  if (text && napi_get_value_string_utf8(env, value, text, length + 1, &length) != napi_ok) {
    free(text);
    return NULL;
  }
  return text;
}

/* Frees a NULL-terminated array from addon_strings (NULL itself is allowed: nothing was made). */
void addon_free_strings(char **strings) {
  if (!strings) return;
  for (char **s = strings; *s; s++) free(*s);
  free(strings);
}

/* A JavaScript array of strings as a NULL-terminated array; NULL on a non-string. */
char **addon_strings(napi_env env, napi_value array) {
  uint32_t count;
  /* Not an array. */
  if (napi_get_array_length(env, array, &count) != napi_ok) return NULL;
  char **strings = calloc(count + 1, sizeof *strings);
  /* Out of memory. */
  if (!strings) return NULL;
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    /* A hole or a non-string: give back the strings made so far (calloc left the rest NULL). */
    if (napi_get_element(env, array, i, &item) != napi_ok || !(strings[i] = addon_string(env, item))) {
      addon_free_strings(strings);
      return NULL;
    }
  }
  return strings;
}
