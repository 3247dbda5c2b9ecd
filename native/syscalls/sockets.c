/*
 * What a session needs to know of its sockets beyond reading and writing them: a relayed command's
 * socketpairs, whether a peer has gone for good, and whose listener a client reached
 * (docs/security.md).
 */
/* struct ucred (SO_PEERCRED). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addon.h"

/*
 * A connected pair of stream sockets, both close-on-exec: a relayed command's stdin, stdout or stderr
 * (one end becomes its 0, 1 or 2 in spawn.c, the other is the server's). Sockets, as libuv makes
 * them for child_process: the command sees what it saw when Node started it.
 */
napi_value socket_pair(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  napi_value result;
  /* EMFILE, ENFILE: -errno, the caller refuses the session. */
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) return negative_errno(env, errno);
  napi_create_array_with_length(env, 2, &result);
  for (uint32_t i = 0; i < 2; i++) {
    napi_value fd;
    napi_create_int32(env, fds[i], &fd);
    napi_set_element(env, result, i, fd);
  }
  return result;
}

/*
 * Whether the peer of a socket is gone for good, without reading it: poll for no event at all still
 * reports POLLHUP and POLLERR. A local socket whose peer closed (after shutting down its side or
 * not) is POLLHUP; a TCP connection only once it was reset (a half-close is not a hang-up there:
 * src/server/peer-watch.ts asks /proc/net/tcp).
 */
napi_value hung_up(napi_env env, napi_callback_info info) {
  int32_t fd;
  /* Not one number: a misuse. */
  if (!int32_argument(env, info, &fd)) return fail(env, "hungup(fd)");
  struct pollfd poller = {.fd = fd, .events = 0};
  int ready;
  do ready = poll(&poller, 1, 0);
  while (ready < 0 && errno == EINTR);
  napi_value value;
  /* A poll error (EBADF...) or POLLNVAL: nothing to watch any more, as good as gone. */
  napi_get_boolean(env, ready < 0 || (poller.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0, &value);
  return value;
}

/*
 * The uid of the process that made the listener a connected local socket reached (SO_PEERCRED: the
 * kernel records it at listen(), in our user namespace's terms). Who holds an abstract name is
 * anyone's guess otherwise: no permission guards the abstract namespace (docs/security.md).
 */
napi_value peer_uid(napi_env env, napi_callback_info info) {
  int32_t fd;
  /* Not one number: a misuse. */
  if (!int32_argument(env, info, &fd)) return fail(env, "peeruid(fd)");
  struct ucred credentials;
  socklen_t size = sizeof credentials;
  /* ENOTSOCK, EBADF, ...: -errno, and the caller refuses to talk. */
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) return negative_errno(env, errno);
  napi_value value;
  napi_create_int64(env, (int64_t)credentials.uid, &value);
  return value;
}
