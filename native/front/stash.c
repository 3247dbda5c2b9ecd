/* Renaming the caller's Node, libuv, OpenSSL and loader variables out of our runtime's way (stash.h). */
#include "stash.h"

#include <stdlib.h>
#include <string.h>

/* Which ones, and why each: src/shared-rules.ts. */
static const char *const PREFIXES[] = {STASHED_PREFIXES};
static const char *const NAMES[] = {STASHED_NAMES};

int stash_wanted(const char *entry) {
  size_t length = strcspn(entry, "=");
  for (size_t i = 0; i < sizeof PREFIXES / sizeof *PREFIXES; i++)
    if (strncmp(entry, PREFIXES[i], strlen(PREFIXES[i])) == 0) return 1;
  for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++)
    if (length == strlen(NAMES[i]) && strncmp(entry, NAMES[i], length) == 0) return 1;
  return 0;
}

static char *concat(const char *first, const char *second) {
  size_t a = strlen(first), b = strlen(second);
  char *result = malloc(a + b + 1);
  if (!result) return NULL;
  memcpy(result, first, a);
  memcpy(result + a, second, b + 1);
  return result;
}

char **stash_environment(char *const envp[], const char *self, const char *stub_cache) {
  size_t count = 0;
  while (envp && envp[count]) count++;
  char **result = calloc(count + 3, sizeof *result);
  if (!result) return NULL;
  size_t out = 0;
  const size_t cache_length = strlen(STUB_CACHE_VARIABLE);
  for (size_t i = 0; i < count; i++) {
    if (strncmp(envp[i], STUB_CACHE_VARIABLE, cache_length) == 0 &&
        (envp[i][cache_length] == '=' || envp[i][cache_length] == '\0'))
      continue;
    result[out] = stash_wanted(envp[i]) ? concat(STASH_PREFIX, envp[i]) : envp[i];
    if (!result[out++]) return NULL;
  }
  if (!(result[out++] = concat(SELF_VARIABLE "=", self))) return NULL;
  if (stub_cache && !(result[out] = concat(STUB_CACHE_VARIABLE "=", stub_cache))) return NULL;
  return result;
}
