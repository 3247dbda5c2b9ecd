/*
 * File descriptors over a local (AF_UNIX) socket: SCM_RIGHTS, which Node only offers on its own
 * child-process IPC channel. The k8psh client hands its stdin/stdout/stderr to the server with the
 * first bytes of a session, so that the remote command reads and writes them directly, as a local
 * command would (docs/protocol.md, "Passed descriptors").
 *
 *   send(socketFd, data: Buffer, fds: number[]) -> bytes sent, or -errno
 *   receive(socketFd, buffer: Buffer) -> [bytes, fds], null (nothing to read yet), or -errno
 *
 * Both are non-blocking single system calls; the sockets belong to Node (net.Socket), this only
 * borrows their descriptor for one call. Received descriptors are close-on-exec.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 8

/* Errors come back as -errno (the JavaScript side names them): no exceptions across the boundary. */
static napi_value negative_errno(napi_env env, int error) {
  napi_value result;
  napi_create_int32(env, -error, &result);
  return result;
}

static napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

static napi_value send_fds(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3)
    return fail(env, "send(socketFd, data, fds)");
  int32_t sock;
  if (napi_get_value_int32(env, argv[0], &sock) != napi_ok) return fail(env, "socketFd must be a number");
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) return fail(env, "data must be a Buffer");
  uint32_t count;
  if (napi_get_array_length(env, argv[2], &count) != napi_ok || count > MAX_FDS)
    return fail(env, "fds must be an array of at most 8 descriptors");
  if (length == 0) return fail(env, "data must not be empty");

  int fds[MAX_FDS];
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    napi_get_element(env, argv[2], i, &item);
    if (napi_get_value_int32(env, item, &fds[i]) != napi_ok) return fail(env, "fds must be numbers");
  }
  union {
    char buffer[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = data, .iov_len = length};
  struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1};
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
  do sent = sendmsg(sock, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) return negative_errno(env, errno);
  napi_value result;
  napi_create_int64(env, sent, &result);
  return result;
}

static napi_value receive_fds(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2)
    return fail(env, "receive(socketFd, buffer)");
  int32_t sock;
  if (napi_get_value_int32(env, argv[0], &sock) != napi_ok) return fail(env, "socketFd must be a number");
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok || length == 0)
    return fail(env, "buffer must be a non-empty Buffer");

  union {
    char buffer[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = data, .iov_len = length};
  struct msghdr message = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof control.buffer};
  ssize_t received;
  do received = recvmsg(sock, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (received < 0 && errno == EINTR);
  if (received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    napi_value none;
    napi_get_null(env, &none);
    return none;
  }
  if (received < 0) return negative_errno(env, errno);

  napi_value fds;
  napi_create_array(env, &fds);
  uint32_t count = 0;
  for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
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
  napi_value result, bytes;
  napi_create_array_with_length(env, 2, &result);
  napi_create_int64(env, received, &bytes);
  napi_set_element(env, result, 0, bytes);
  napi_set_element(env, result, 1, fds);
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
      {"send", NULL, send_fds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"receive", NULL, receive_fds, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof *properties, properties);
  return exports;
}
