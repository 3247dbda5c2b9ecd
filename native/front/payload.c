/* Reading the payload table of our own executable (payload.h). */
#define _GNU_SOURCE
#include "payload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(struct payload_trailer) == 48, "trailer layout");
_Static_assert(sizeof(struct payload_entry) == 72, "entry layout");

/* A file name that stays inside its directory: no '/', not "", "." or "..". */
static int plain_name(const char *name, size_t capacity) {
  size_t length = strnlen(name, capacity);
  return length > 0 && length < capacity && !strchr(name, '/') && strcmp(name, ".") != 0 &&
         strcmp(name, "..") != 0;
}

static int read_exactly(int fd, void *buffer, size_t size, off_t offset) {
  ssize_t got = pread(fd, buffer, size, offset);
  if (got < 0) return -1;
  if ((size_t)got != size) {
    errno = EINVAL;
    return -1;
  }
  return 0;
}

int payload_open(int fd, struct payload *payload) {
  struct stat status;
  memset(payload, 0, sizeof *payload);
  payload->fd = fd;
  if (fstat(fd, &status) != 0) return -1;
  payload->size = status.st_size;
  struct payload_trailer *trailer = &payload->trailer;
  if (status.st_size < (off_t)sizeof *trailer ||
      read_exactly(fd, trailer, sizeof *trailer, status.st_size - (off_t)sizeof *trailer) != 0)
    goto invalid;
  uint64_t end = (uint64_t)status.st_size - sizeof *trailer;
  uint64_t table_size = (uint64_t)trailer->count * sizeof(struct payload_entry);
  if (memcmp(trailer->magic, PAYLOAD_MAGIC, sizeof trailer->magic) != 0 ||
      !plain_name(trailer->id, sizeof trailer->id) || trailer->count > 64 || trailer->front == 0 ||
      trailer->table > end || end - trailer->table != table_size || trailer->front > trailer->table)
    goto invalid;
  if (trailer->count == 0) return 0;
  payload->entries = calloc(trailer->count, sizeof(struct payload_entry));
  if (!payload->entries) return -1;
  if (read_exactly(fd, payload->entries, table_size, (off_t)trailer->table) != 0) goto invalid;
  for (uint32_t i = 0; i < trailer->count; i++) {
    const struct payload_entry *entry = &payload->entries[i];
    if (!plain_name(entry->name, sizeof entry->name) || entry->offset < trailer->front ||
        entry->offset > trailer->table || entry->size > trailer->table - entry->offset)
      goto invalid;
  }
  return 0;
invalid:
  free(payload->entries);
  payload->entries = NULL;
  errno = ENOEXEC;
  return -1;
}

int copy_range(int in, off_t offset, uint64_t size, int out) {
  while (size > 0) {
    ssize_t sent = sendfile(out, in, &offset, size > 0x40000000 ? 0x40000000 : (size_t)size);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0) return -1;
    if (sent == 0) {
      errno = EIO; /* the file is shorter than its table says */
      return -1;
    }
    size -= (uint64_t)sent;
  }
  return 0;
}
