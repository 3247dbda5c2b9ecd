/* Finding, unpacking and starting the runtime directory (runtime.h). */
#define _GNU_SOURCE
#include "runtime.h"
#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int runtime_path(const char *dir, const struct payload *payload, char *out, size_t size) {
  int length = snprintf(out, size, "%s/" RUNTIME_PREFIX "%s", dir, payload->trailer.id);
  if (length < 0 || (size_t)length >= size) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

static int executable_in(int dirfd, const char *name) {
  struct stat status;
  return fstatat(dirfd, name, &status, 0) == 0 && S_ISREG(status.st_mode) &&
         faccessat(dirfd, name, X_OK, AT_EACCESS) == 0;
}

int runtime_ready(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  int ready = executable_in(fd, RUNTIME_LOADER) && executable_in(fd, RUNTIME_NODE);
  close(fd);
  return ready;
}

/* One file of the payload into dirfd. */
static int unpack_entry(const struct payload *payload, const struct payload_entry *entry, int dirfd) {
  int out = openat(dirfd, entry->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, entry->mode & 0755);
  if (out < 0) return -1;
  int result = copy_range(payload->fd, (off_t)entry->offset, entry->size, out);
  int error = errno;
  if (close(out) != 0 && result == 0) return -1;
  errno = error;
  return result;
}

/* One file of an unpacked runtime into dirfd: a hard link when possible, else a copy. */
static int copy_entry(int sourcefd, const char *name, int dirfd) {
  if (linkat(sourcefd, name, dirfd, name, 0) == 0) return 0;
  int in = openat(sourcefd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (in < 0) return -1;
  struct stat status;
  int result = -1;
  if (fstat(in, &status) != 0) {
    /* errno says why */
  } else if (!S_ISREG(status.st_mode)) {
    errno = EINVAL; /* we make no subdirectories: not a runtime of ours */
  } else {
    int out = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, status.st_mode & 0755);
    if (out >= 0) {
      result = copy_range(in, 0, (uint64_t)status.st_size, out);
      if (close(out) != 0) result = -1;
    }
  }
  int error = errno;
  close(in);
  errno = error;
  return result;
}

static int fill(int dirfd, const struct payload *payload, const char *source) {
  if (payload->trailer.count > 0) {
    for (uint32_t i = 0; i < payload->trailer.count; i++)
      if (unpack_entry(payload, &payload->entries[i], dirfd) != 0) return -1;
    return 0;
  }
  int sourcefd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *listing = sourcefd < 0 ? NULL : fdopendir(sourcefd);
  if (!listing) {
    if (sourcefd >= 0) close(sourcefd);
    return -1;
  }
  int result = 0;
  struct dirent *entry;
  while (result == 0 && (errno = 0, entry = readdir(listing)) != NULL)
    if (entry->d_name[0] != '.') result = copy_entry(sourcefd, entry->d_name, dirfd);
  if (result == 0 && errno != 0) result = -1;
  int error = errno;
  closedir(listing);
  errno = error;
  return result;
}

/* Removes the temporary directory dir and the files in it (never a subdirectory: we make none). */
static void remove_temporary(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  DIR *listing = fd < 0 ? NULL : fdopendir(fd);
  if (listing) {
    struct dirent *entry;
    while ((entry = readdir(listing)) != NULL)
      if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
        unlinkat(fd, entry->d_name, 0);
    closedir(listing);
  } else if (fd >= 0) {
    close(fd);
  }
  rmdir(dir);
}

int runtime_create(const char *dir, const struct payload *payload, const char *source) {
  if (runtime_ready(dir)) return 0;
  char temporary[PATH_MAX];
  int length = snprintf(temporary, sizeof temporary, "%s.%ld.tmp", dir, (long)getpid());
  if (length < 0 || (size_t)length >= sizeof temporary) {
    errno = ENAMETOOLONG;
    return -1;
  }
  remove_temporary(temporary); /* left by a crashed process that had our pid */
  if (mkdir(temporary, 0700) != 0) return -1;
  int dirfd = open(temporary, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int result = dirfd < 0 ? -1 : fill(dirfd, payload, source);
  /* Readable by all, like the executable: other users and containers run it, nobody writes it. */
  if (result == 0 && fchmod(dirfd, 0755) != 0) result = -1;
  int error = errno;
  if (dirfd >= 0) close(dirfd);
  if (result == 0 && rename(temporary, dir) == 0) return 0;
  if (result == 0) error = errno;
  remove_temporary(temporary);
  /* Another process made it first: theirs is as good as ours. */
  if (result == 0 && (error == EEXIST || error == ENOTEMPTY) && runtime_ready(dir)) return 0;
  errno = error;
  return -1;
}

int runtime_cached(int index, const struct payload *payload, char *out, size_t size) {
  char base[PATH_MAX];
  int found = cache_directory(index, base, sizeof base);
  if (found <= 0) return found;
  if (runtime_path(base, payload, out, size) != 0) return 0;
  return runtime_create(out, payload, NULL) == 0;
}

void runtime_exec(const char *dir, const char *argv0, int argc, char **argv, char **env) {
  char loader[PATH_MAX], node[PATH_MAX];
  if (snprintf(loader, sizeof loader, "%s/" RUNTIME_LOADER, dir) >= (int)sizeof loader ||
      snprintf(node, sizeof node, "%s/" RUNTIME_NODE, dir) >= (int)sizeof node) {
    errno = ENAMETOOLONG;
    return;
  }
  char **args = calloc((size_t)argc + 7, sizeof *args);
  if (!args) return;
  size_t n = 0;
  args[n++] = loader;
  /* --library-path also overrides any LD_LIBRARY_PATH; nothing of ours goes into the environment. */
  args[n++] = "--library-path";
  args[n++] = (char *)dir;
  args[n++] = "--argv0";
  args[n++] = (char *)argv0;
  args[n++] = node;
  for (int i = 1; i < argc; i++) args[n++] = argv[i];
  execve(loader, args, env);
  int error = errno;
  free(args);
  errno = error;
}
