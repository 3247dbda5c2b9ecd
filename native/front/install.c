/* k8psh --install, in the front (install.h). */
#define _GNU_SOURCE
#include "install.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "runtime.h"

const char *install_target(const char *name, int argc, char **argv) {
  if (strcmp(name, "k8psh") != 0) return NULL;
  if (argc == 3 && strcmp(argv[1], "--install") == 0) return argv[2];
  if (argc == 2 && strncmp(argv[1], "--install=", 10) == 0) return argv[1] + 10;
  return NULL;
}

/* The directory part of path ("." for a bare name) into out. */
static int directory_of(const char *path, char *out, size_t size) {
  const char *slash = strrchr(path, '/');
  int length = !slash ? snprintf(out, size, ".")
               : slash == path ? snprintf(out, size, "/")
                               : snprintf(out, size, "%.*s", (int)(slash - path), path);
  if (length < 0 || (size_t)length >= size) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

/* The front alone: its bytes, then a trailer with the same build id and no entries. */
static int write_front(const struct payload *payload, int out) {
  struct payload_trailer trailer = payload->trailer;
  trailer.count = 0;
  trailer.table = trailer.front;
  if (copy_range(payload->fd, 0, trailer.front, out) != 0) return -1;
  ssize_t written = write(out, &trailer, sizeof trailer);
  if (written < 0) return -1;
  if ((size_t)written != sizeof trailer) {
    errno = EIO;
    return -1;
  }
  return 0;
}

static int install_front(const char *self, const struct payload *payload, const char *dir,
                         const char *target) {
  const char *name = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
  char temporary[PATH_MAX];
  int length = snprintf(temporary, sizeof temporary, "%s/.%s.%ld.tmp", dir, name, (long)getpid());
  if (length < 0 || (size_t)length >= sizeof temporary) {
    errno = ENAMETOOLONG;
    return -1;
  }
  unlink(temporary);
  /* An installed copy is already the front alone: link it, as the original does. */
  if (payload->trailer.count == 0 && link(self, temporary) == 0) {
    if (rename(temporary, target) == 0) return 0;
    int error = errno;
    unlink(temporary);
    errno = error;
    return -1;
  }
  int out = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
  if (out < 0) return -1;
  int result = write_front(payload, out);
  if (result == 0 && fchmod(out, 0755) != 0) result = -1; /* whatever the umask */
  if (close(out) != 0) result = -1;
  if (result == 0 && rename(temporary, target) == 0) return 0;
  int error = errno;
  unlink(temporary);
  errno = error;
  return -1;
}

int install(const char *self, const struct payload *payload, const char *target) {
  char dir[PATH_MAX], runtime[PATH_MAX], self_dir[PATH_MAX], source[PATH_MAX];
  struct stat status;
  if (*target == '\0') {
    errno = ENOENT;
    return -1;
  }
  if (stat(target, &status) == 0 && S_ISDIR(status.st_mode)) {
    errno = EISDIR;
    return -1;
  }
  if (directory_of(target, dir, sizeof dir) != 0 || runtime_path(dir, payload, runtime, sizeof runtime) != 0 ||
      directory_of(self, self_dir, sizeof self_dir) != 0 ||
      runtime_path(self_dir, payload, source, sizeof source) != 0)
    return -1;
  if (runtime_create(runtime, payload, source) != 0) return -1;
  return install_front(self, payload, dir, target);
}
