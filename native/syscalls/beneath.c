/*
 * The working directory of a command, opened beneath the server's base directory (docs/security.md,
 * "Working directory"). The descriptor is what the command starts in (fchdir in spawn.c, or
 * /proc/self/fd/N for children the addon does not start): the directory that was checked is the one
 * used, whatever is renamed or swapped for a symlink afterwards.
 *
 *   openbeneath(base, relative[, walk]) -> an O_PATH, close-on-exec descriptor of the directory, or
 *   -errno; `walk` true takes the fallback below even where openat2 exists (for its tests)
 *
 * `relative` is already normalised by the caller (no "..", no empty or "." components, not
 * absolute; "" is the base itself). openat2 with RESOLVE_BENEATH refuses any symlink that leads out
 * of the base (EXDEV), and absolute symlinks, whose meaning depends on where the volume is mounted;
 * RESOLVE_NO_MAGICLINKS refuses /proc-style links (ELOOP). Kernels before 5.6, or a seccomp profile
 * that does not know openat2 (ENOSYS, EPERM), get a walk one component at a time with O_NOFOLLOW:
 * stricter, since it refuses every symlink (ELOOP), even one that stays inside.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addon.h"

#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#define DIRECTORY_FLAGS (O_PATH | O_DIRECTORY | O_CLOEXEC)
/* RESOLVE_BENEATH answers EAGAIN when a concurrent rename might have let ".." escape: try again. */
#define RACE_RETRIES 8

/* openat2 beneath dirfd: the descriptor, -errno, or -ENOSYS when this kernel cannot do it. */
static int open_resolved(int dirfd, const char *relative) {
#ifdef SYS_openat2
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = DIRECTORY_FLAGS;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  long fd;
  int tries = 0;
  do fd = syscall(SYS_openat2, dirfd, relative, &how, sizeof how);
  while (fd < 0 && (errno == EINTR || (errno == EAGAIN && ++tries < RACE_RETRIES)));
  if (fd >= 0) return (int)fd;
  /* A seccomp profile older than openat2 answers EPERM (Docker's did), an old kernel ENOSYS. */
  return errno == EPERM ? -ENOSYS : -errno;
#else
  (void)dirfd;
  (void)relative;
  return -ENOSYS;
#endif
}

/* One component at a time, never following a symlink: the descriptor or -errno (a symlink: -ELOOP). */
static int open_walked(int dirfd, char *relative) {
  int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return -errno;
  char *rest = relative;
  for (char *part; (part = strsep(&rest, "/"));) {
    /* The caller normalised the path: an empty part can only come from a trailing slash. */
    if (*part == '\0') continue;
    int next = openat(fd, part, DIRECTORY_FLAGS | O_NOFOLLOW);
    int error = errno;
    char target;
    /* With O_PATH | O_NOFOLLOW a symlink is not followed but fails O_DIRECTORY: name it for what it
       is. readlinkat, not fstatat: glibc has an fstatat symbol only since 2.33, newer than Node's. */
    if (next < 0 && error == ENOTDIR && readlinkat(fd, part, &target, 1) >= 0) error = ELOOP;
    close(fd);
    if (next < 0) return -error;
    fd = next;
  }
  return fd;
}

napi_value open_beneath(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  bool walk = false;
  /* Not two or three arguments, or a third that is no boolean: a misuse. */
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || argc > 3 ||
      (argc == 3 && napi_get_value_bool(env, argv[2], &walk) != napi_ok))
    return fail(env, "openbeneath(base, relative[, walk])");
  char *base = addon_string(env, argv[0]);
  char *relative = addon_string(env, argv[1]);
  int result;
  if (!base || !relative) {
    free(base);
    free(relative);
    return fail(env, "base and relative must be strings");
  }
  /* The base is the administrator's choice: its own symlinks are followed. */
  int basefd = open(base, DIRECTORY_FLAGS);
  if (basefd < 0) {
    result = -errno;
  } else if (*relative == '\0') {
    /* The base itself: its own descriptor. */
    result = basefd;
  } else {
    result = walk ? -ENOSYS : open_resolved(basefd, relative);
    if (result == -ENOSYS) result = open_walked(basefd, relative);
    close(basefd);
  }
  free(base);
  free(relative);
  napi_value value;
  napi_create_int32(env, result, &value);
  return value;
}
