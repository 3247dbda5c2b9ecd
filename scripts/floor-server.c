/*
 * The floor of a server for a direct `true` (docs/benchmarks.md, "The server's turnaround"): what a
 * native stub call would cost if the server were this small C loop instead of Node. It speaks just
 * enough of the protocol for one kind of request: accept on the local socket of PORT, take the
 * first bytes and the three descriptors with recvmsg, answer HELLO, posix_spawn /bin/true on the
 * descriptors, wait for it, send EXIT_CODE and close. One connection at a time, no checks: an
 * experiment, never a server. Its wire values come from ../native/front/shared.h (generated from
 * src/protocol/, docs/protocol.md "One source").
 *
 *   gcc -O2 -Wall -Wextra -Werror -o /tmp/floor-server scripts/floor-server.c
 *   /tmp/floor-server PORT     # instead of `k8pshd` on PORT, once a stub has its table
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../native/front/shared.h"

extern char **environ;

/* Every field of the wire is little-endian: `size` bytes of `value` at `at`; returns the end. */
static unsigned char *put_le(unsigned char *at, uint32_t value, int size) {
  for (int i = 0; i < size; i++) at[i] = (unsigned char)(value >> (8 * i));
  return at + size;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: floor-server PORT\n");
    return 2;
  }
  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  /* The abstract name, exact length, as a Node 24 server binds it. */
  int length = snprintf(address.sun_path + 1, sizeof address.sun_path - 1, LOCAL_SOCKET_PREFIX "%s", argv[1]);
  socklen_t size = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)length);
  if (listener < 0 || bind(listener, (struct sockaddr *)&address, size) != 0 || listen(listener, 128) != 0) {
    perror("floor-server");
    return 1;
  }
  /* HELLO: the magic, our protocol version, every feature a server offers (PASSED_STDIO among them). */
  unsigned char hello[FRAME_HEADER_SIZE + HELLO_SIZE], *at = hello;
  *at++ = FRAME_HELLO;
  at = put_le(at, HELLO_SIZE, 4);
  at = put_le(at, HELLO_MAGIC, 4);
  at = put_le(at, PROTOCOL_VERSION, 2);
  put_le(at, ALL_FEATURES, 4);
  for (;;) {
    int connection = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (connection < 0) continue;
    char bytes[65536], control[CMSG_SPACE(PASSED_FD_COUNT * sizeof(int))];
    struct iovec vector = {bytes, sizeof bytes};
    struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1, .msg_control = control,
                             .msg_controllen = sizeof control};
    struct cmsghdr *header;
    int fds[PASSED_FD_COUNT];
    /* Not a stub's request with its descriptors: dropped. */
    if (recvmsg(connection, &message, MSG_CMSG_CLOEXEC) <= 0 || !(header = CMSG_FIRSTHDR(&message)) ||
        header->cmsg_len != CMSG_LEN(sizeof fds)) {
      close(connection);
      continue;
    }
    memcpy(fds, CMSG_DATA(header), sizeof fds);
    if (write(connection, hello, sizeof hello) != (ssize_t)sizeof hello) perror("floor-server: HELLO");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    for (int i = 0; i < PASSED_FD_COUNT; i++) posix_spawn_file_actions_adddup2(&actions, fds[i], i);
    char *args[] = {"/bin/true", NULL};
    pid_t pid;
    int status = 0;
    if (posix_spawn(&pid, args[0], &actions, NULL, args, environ) == 0) waitpid(pid, &status, 0);
    posix_spawn_file_actions_destroy(&actions);
    for (int i = 0; i < PASSED_FD_COUNT; i++) close(fds[i]);
    unsigned char exit_code[FRAME_HEADER_SIZE] = {FRAME_EXIT_CODE};
    put_le(exit_code + 1, (uint32_t)WEXITSTATUS(status), 4);
    if (write(connection, exit_code, sizeof exit_code) != (ssize_t)sizeof exit_code)
      perror("floor-server: EXIT_CODE");
    close(connection);
  }
}
