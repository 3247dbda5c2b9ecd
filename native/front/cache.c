/* The private cache directory candidates (cache.h). */
#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared.h"

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

/* Whether mkdir -p of a missing path would succeed: its nearest existing ancestor is a directory
 * we may write and search (AT_EACCESS: the effective uid decides, as for mkdir; EROFS counts). */
static int could_make(const char *path) {
  char ancestor[PATH_MAX];
  if (snprintf(ancestor, sizeof ancestor, "%s", path) >= (int)sizeof ancestor) return 0;
  for (;;) {
    char *slash = strrchr(ancestor, '/');
    if (!slash) return 0;
    if (slash == ancestor) slash[1] = '\0'; /* the root itself */
    else *slash = '\0';
    struct stat status;
    if (stat(ancestor, &status) == 0)
      return S_ISDIR(status.st_mode) && faccessat(AT_FDCWD, ancestor, W_OK | X_OK, AT_EACCESS) == 0;
    if (errno != ENOENT || slash == ancestor) return 0;
  }
}

/*
 * A cache directory only we can write: ours, a real directory (not a symlink), mode 0700. A
 * missing one is made when create is set; otherwise it counts when it could be made (its writer
 * makes it), so that a reader and a writer pick the same candidate while a read writes nothing.
 */
static int private_directory(char *path, int create) {
  if (path[0] != '/') return 0;
  struct stat status;
  /* Made only when missing: a stub call checks it every time, one lstat is all it should cost. */
  if (lstat(path, &status) != 0) {
    if (errno != ENOENT) return 0;
    if (!create) return could_make(path);
    if (make_directories(path) != 0 || lstat(path, &status) != 0) return 0;
  }
  if (!S_ISDIR(status.st_mode) || status.st_uid != geteuid()) {
    errno = EPERM;
    return 0;
  }
  if ((status.st_mode & 077) != 0 && chmod(path, 0700) != 0) return 0;
  return 1;
}

/* The candidates, in order (src/shared-rules.ts CACHE_CANDIDATES). */
static const struct {
  const char *variable; /* NULL: the suffix alone */
  const char *suffix;
  int per_user; /* -<euid> follows: a directory others can write to */
} CANDIDATES[] = {CACHE_CANDIDATES};

/*
 * Candidate index of cache.h as a directory path in out; 0 when it is not set (or relative, as the
 * runtime's cache refuses it: a relative path would name a directory of whoever owns the current
 * one), -1 past the last.
 */
static int candidate(int index, char *out, size_t size) {
  if (index < 0 || (size_t)index >= sizeof CANDIDATES / sizeof *CANDIDATES) return -1;
  const char *value = CANDIDATES[index].variable ? getenv(CANDIDATES[index].variable) : "";
  if (!value || (CANDIDATES[index].variable && value[0] != '/')) return 0;
  int length = CANDIDATES[index].per_user
                   ? snprintf(out, size, "%s%s-%ld", value, CANDIDATES[index].suffix, (long)geteuid())
                   : snprintf(out, size, "%s%s", value, CANDIDATES[index].suffix);
  return length > 0 && (size_t)length < size;
}

int cache_directory(int index, char *out, size_t size, int create) {
  int found = candidate(index, out, size);
  if (found <= 0) return found;
  return private_directory(out, create);
}
