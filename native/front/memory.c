/* The runtime from memory files (memory.h). */
#define _GNU_SOURCE
#include "memory.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "runtime.h"

/* Appends a formatted text to buffer (capacity size, NUL-terminated); -1 when it does not fit. */
__attribute__((format(printf, 3, 4))) static int append(char *buffer, size_t size, const char *format, ...) {
  size_t used = strlen(buffer);
  va_list arguments;
  va_start(arguments, format);
  int length = vsnprintf(buffer + used, size - used, format, arguments);
  va_end(arguments);
  return length < 0 || (size_t)length >= size - used ? -1 : 0;
}

void runtime_exec_memory(const struct payload *payload, const char *argv0, int argc, char **argv,
                         char **env) {
  uint32_t count = payload->trailer.count;
  size_t size = 64 + (size_t)count * (PAYLOAD_NAME_SIZE + 32);
  size_t env_count = 0;
  while (env[env_count]) env_count++;
  char *preload = calloc(1, size), *fds = calloc(1, size);
  char **args = calloc((size_t)argc + 7, sizeof *args);
  char **memory_env = calloc(env_count + 2, sizeof *memory_env);
  int *opened = calloc(count + 1, sizeof *opened);
  uint32_t open_count = 0;
  int loader = -1, node = -1;
  if (!preload || !fds || !args || !memory_env || !opened) goto failed;
  strcpy(fds, MEMORY_FDS_VARIABLE "=");
  for (uint32_t i = 0; i < count; i++) {
    const struct payload_entry *entry = &payload->entries[i];
    int is_loader = strcmp(entry->name, RUNTIME_LOADER) == 0;
    /* Not close-on-exec (but the loader, run by its descriptor): the loader opens them after exec. */
    int fd = memfd_create(entry->name, is_loader ? MFD_CLOEXEC : 0);
    if (fd < 0) goto failed;
    opened[open_count++] = fd;
    if (copy_range(payload->fd, (off_t)entry->offset, entry->size, fd) != 0) goto failed;
    if (is_loader) {
      loader = fd;
      continue;
    }
    if (append(fds, size, "%s=%d,", entry->name, fd) != 0) goto failed;
    if (strcmp(entry->name, RUNTIME_NODE) == 0)
      node = fd;
    else if (strstr(entry->name, ".so") &&
             append(preload, size, "%s/proc/self/fd/%d", *preload ? " " : "", fd) != 0)
      goto failed;
  }
  if (loader < 0 || node < 0) {
    errno = ENOENT;
    goto failed;
  }
  char program[32];
  snprintf(program, sizeof program, "/proc/self/fd/%d", node);
  size_t n = 0;
  args[n++] = RUNTIME_LOADER;
  /* The libraries are found by their sonames once preloaded: no library path at all. */
  args[n++] = "--preload";
  args[n++] = preload;
  args[n++] = "--argv0";
  args[n++] = (char *)argv0;
  args[n++] = program;
  for (int i = 1; i < argc; i++) args[n++] = argv[i];
  memcpy(memory_env, env, env_count * sizeof *env);
  memory_env[env_count] = fds;
  fexecve(loader, args, memory_env);
failed:;
  int error = errno;
  for (uint32_t i = 0; opened && i < open_count; i++) close(opened[i]);
  free(opened);
  free(memory_env);
  free(args);
  free(fds);
  free(preload);
  errno = error;
}
