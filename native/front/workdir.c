/* The relative working directory (workdir.h). */
#include "workdir.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

const char *workdir_relative(const char *cwd, const char *configured, size_t configured_size) {
  char base[PATH_MAX], physical[PATH_MAX];
  if (configured_size >= sizeof base) return NULL;
  memcpy(base, configured, configured_size);
  base[configured_size] = '\0';
  /* Physical paths on both sides: getcwd() resolves symlinks, the configured base may not. */
  const char *root = realpath(base, physical) ? physical : base;
  size_t length = strlen(root);
  if (strcmp(root, "/") == 0) return cwd + 1;
  if (strncmp(cwd, root, length) != 0) return NULL;
  if (cwd[length] == '\0') return cwd + length;
  return cwd[length] == '/' ? cwd + length + 1 : NULL;
}
