/*
 * Passed descriptors (docs/protocol.md, "Passed descriptors"): the client hands its stdin, stdout and
 * stderr to the server with the first bytes of a session (SCM_RIGHTS over a local socket, which Node
 * offers only on its own child-process IPC channel), and the server starts the command on them.
 *
 * connect lets a client pass its stdio without loading Node's net, stream and tty modules (about 6 ms
 * of every stub call here); it reads the socket with fs.read. The path is a JavaScript string; an
 * abstract name (starting with NUL) is connected as Node 24's net binds it (exact length), then as
 * Node 20's did (padded with NULs to the full sun_path). send/receive are non-blocking single system
 * calls on a socket (possibly one that belongs to Node); received descriptors are close-on-exec.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addon.h"
#include "unix-connect.h"

#define MAX_FDS 8

napi_value connect_local(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  struct sockaddr_un address;
  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  size_t length;
  /* Not one string, empty, or too long for sun_path (with room for a file path's NUL): a misuse. */
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_string_utf8(env, argv[0], NULL, 0, &length) != napi_ok || length == 0 ||
      length >= sizeof address.sun_path)
    return fail(env, "connect(path): a path shorter than 108 bytes");
  char path[sizeof address.sun_path + 1];
  napi_get_value_string_utf8(env, argv[0], path, sizeof path, &length);
  memcpy(address.sun_path, path, length);
  int fd = unix_connect(&address, length); /* exact, then padded (unix-connect.h) */
  if (fd < 0) return negative_errno(env, -fd);
  napi_value value;
  napi_create_int32(env, fd, &value);
  return value;
}

/* The arguments of send(socketFd, data, fds) and receive(socketFd, buffer), read once for both. */
struct socket_call {
  napi_value argv[3];
  int32_t sock;
  void *data;
  size_t length;
};

/* Room for the SCM_RIGHTS message of MAX_FDS descriptors, aligned as a cmsghdr. */
typedef union {
  char buffer[CMSG_SPACE(sizeof(int) * MAX_FDS)];
  struct cmsghdr align;
} control_buffer;

/* Reads `expected` arguments, the first two a socket and a non-empty Buffer; false when a TypeError
   was thrown. */
static bool socket_and_buffer(napi_env env, napi_callback_info info, size_t expected, const char *usage,
                              struct socket_call *call) {
  size_t argc = expected;
  /* Wrong argument count. */
  if (napi_get_cb_info(env, info, &argc, call->argv, NULL, NULL) != napi_ok || argc != expected) {
    fail(env, usage);
    return false;
  }
  /* The socket is not a number. */
  if (napi_get_value_int32(env, call->argv[0], &call->sock) != napi_ok) {
    fail(env, "socketFd must be a number");
    return false;
  }
  /* Not a Buffer, or an empty one: zero bytes would read as the end of the stream. */
  if (napi_get_buffer_info(env, call->argv[1], &call->data, &call->length) != napi_ok ||
      call->length == 0) {
    fail(env, "data/buffer must be a non-empty Buffer");
    return false;
  }
  return true;
}

napi_value send_fds(napi_env env, napi_callback_info info) {
  struct socket_call call;
  /* Bad arguments: socket_and_buffer has thrown. */
  if (!socket_and_buffer(env, info, 3, "send(socketFd, data, fds)", &call)) return NULL;
  uint32_t count;
  /* Not an array, or more descriptors than the control buffer holds. */
  if (napi_get_array_length(env, call.argv[2], &count) != napi_ok || count > MAX_FDS)
    return fail(env, "fds must be an array of at most 8 descriptors");

  int fds[MAX_FDS];
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    napi_get_element(env, call.argv[2], i, &item);
    /* A descriptor that is not a number. */
    if (napi_get_value_int32(env, item, &fds[i]) != napi_ok) return fail(env, "fds must be numbers");
  }
  control_buffer control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = call.data, .iov_len = call.length};
  struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1};
  /* Descriptors to pass: one SCM_RIGHTS message; none: a plain send, with no control data at all. */
  if (count > 0) {
    message.msg_control = control.buffer;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * count);
    memcpy(CMSG_DATA(header), fds, sizeof(int) * count);
  }
  ssize_t sent;
  do sent = sendmsg(call.sock, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  /* EAGAIN (a full socket: the caller waits and tries again), EPIPE, ... */
  if (sent < 0) return negative_errno(env, errno);
  napi_value result;
  napi_create_int64(env, sent, &result);
  return result;
}

napi_value receive_fds(napi_env env, napi_callback_info info) {
  struct socket_call call;
  /* Bad arguments: socket_and_buffer has thrown. */
  if (!socket_and_buffer(env, info, 2, "receive(socketFd, buffer)", &call)) return NULL;

  control_buffer control;
  struct iovec iov = {.iov_base = call.data, .iov_len = call.length};
  struct msghdr message = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof control.buffer};
  ssize_t received;
  do received = recvmsg(call.sock, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (received < 0 && errno == EINTR);
  /* Nothing has arrived yet: null, the caller waits for the socket to be readable. */
  if (received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    napi_value none;
    napi_get_null(env, &none);
    return none;
  }
  /* A real error (ECONNRESET, EBADF, ...). */
  if (received < 0) return negative_errno(env, errno);

  napi_value fds;
  napi_create_array(env, &fds);
  uint32_t count = 0;
  for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
    /* Only descriptors are wanted; another kind of control message (credentials) is passed over. */
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int *received_fds = (int *)CMSG_DATA(header);
    for (size_t i = 0; i < n; i++) {
      napi_value fd;
      napi_create_int32(env, received_fds[i], &fd);
      napi_set_element(env, fds, count++, fd);
    }
  }
  /* Descriptors cut off for lack of room were closed by the kernel: the caller must not trust the rest. */
  if (message.msg_flags & MSG_CTRUNC) {
    for (uint32_t i = 0; i < count; i++) {
      napi_value item;
      int32_t fd;
      napi_get_element(env, fds, i, &item);
      napi_get_value_int32(env, item, &fd);
      close(fd);
    }
    return negative_errno(env, EMSGSIZE);
  }
  /* Bytes (0: the peer closed) and the descriptors that came with them. */
  napi_value result, bytes;
  napi_create_array_with_length(env, 2, &result);
  napi_create_int64(env, received, &bytes);
  napi_set_element(env, result, 0, bytes);
  napi_set_element(env, result, 1, fds);
  return result;
}
