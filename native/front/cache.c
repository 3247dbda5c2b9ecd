/* The private cache directory candidates (cache.h). */
#include "cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p, new directories private (0700). */
static int make_directories(char *path) {
  for (char *slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
    *slash = '\0';
    int result = mkdir(path, 0700);
    *slash = '/';
    if (result != 0 && errno != EEXIST) return -1;
  }
  if (mkdir(path, 0700) != 0 && errno != EEXIST) return -1;
  return 0;
}

/* A cache directory only we can write: ours, a real directory (not a symlink), mode 0700. */
static int private_directory(char *path) {
  if (path[0] != '/') return 0;
  struct stat status;
  /* Made only when missing: a stub call checks it every time, one lstat is all it should cost. */
  if (lstat(path, &status) != 0 && (make_directories(path) != 0 || lstat(path, &status) != 0)) return 0;
  if (!S_ISDIR(status.st_mode) || status.st_uid != geteuid()) {
    errno = EPERM;
    return 0;
  }
  if ((status.st_mode & 077) != 0 && chmod(path, 0700) != 0) return 0;
  return 1;
}

/* Candidate index of cache.h as a directory path in out; 0 when it is not set, -1 past the last. */
static int candidate(int index, char *out, size_t size) {
  const char *value;
  int length = 0;
  switch (index) {
  case 0:
    value = getenv("K8PSH_CACHE_DIR");
    if (value && *value) length = snprintf(out, size, "%s", value);
    break;
  case 1:
    value = getenv("XDG_CACHE_HOME");
    if (value && *value) length = snprintf(out, size, "%s/k8psh", value);
    break;
  case 2:
    value = getenv("HOME");
    if (value && *value) length = snprintf(out, size, "%s/.cache/k8psh", value);
    break;
  case 3:
    value = getenv("TMPDIR");
    if (value && *value) length = snprintf(out, size, "%s/k8psh-%ld", value, (long)geteuid());
    break;
  case 4:
    length = snprintf(out, size, "/tmp/k8psh-%ld", (long)geteuid());
    break;
  default:
    return -1;
  }
  return length > 0 && (size_t)length < size;
}

int cache_directory(int index, char *out, size_t size) {
  int found = candidate(index, out, size);
  if (found <= 0) return found;
  return private_directory(out);
}
