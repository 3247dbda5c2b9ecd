/*
 * Connecting to a local (AF_UNIX) socket, for the front's native stub and the runtime's addon
 * (passing.c) alike: header-only, so each build compiles it with its own libc. It lives here, with
 * the addon, because the addon's cross build copies this directory alone (scripts/targets.mjs).
 * An abstract name is exactly its bytes for the libuv of Node 24 (what our server binds); the
 * libuv of Node 20 padded it with NULs to the whole sun_path, so that form is tried when the exact
 * one is refused (a server run by Node 20 from the sources).
 */
#ifndef K8PSH_UNIX_CONNECT_H
#define K8PSH_UNIX_CONNECT_H

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* A new close-on-exec stream socket connected to address (size bytes of it), or -errno. */
static inline int unix_connect_exactly(const struct sockaddr_un *address, socklen_t size) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int result;
  do result = connect(fd, (const struct sockaddr *)address, size);
  while (result < 0 && errno == EINTR);
  if (result == 0) return fd;
  int error = errno;
  close(fd);
  return -error;
}

/*
 * address holds length bytes of name in sun_path (an abstract name starts with a NUL; a file path
 * is NUL-terminated after them). Returns the connected socket or -errno.
 */
static inline int unix_connect(const struct sockaddr_un *address, size_t length) {
  int abstract = address->sun_path[0] == '\0';
  int fd = unix_connect_exactly(address, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length + (abstract ? 0 : 1)));
  if (abstract && fd == -ECONNREFUSED) fd = unix_connect_exactly(address, sizeof *address);
  return fd;
}

#endif
