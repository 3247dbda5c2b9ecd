/*
 * turnaround: the server's turnaround for a direct `true`, measured by a client as tight as the
 * native stub (docs/benchmarks.md). Per round and per port: connect to the server's abstract
 * socket, wait `gap` microseconds (busy), then time sendmsg of the request (HELLO with
 * PASSED_STDIO, WORKING_DIRECTORY "", START_COMMAND "true", /dev/null as stdin, stdout, stderr)
 * to the EXIT_CODE frame. Ports are measured interleaved, round after round.
 *
 *   turnaround ROUNDS GAP_US PORT...   -> a line per port: "PORT median p90 mean" in ms
 *
 * Built and run by scripts/measure-turnaround.mjs (--client c). The reply is parsed with a fixed
 * buffer: string payloads are skipped, never stored, whatever length the server announces. Its wire
 * values come from ../native/front/shared.h (generated from src/protocol/, docs/protocol.md "One
 * source").
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../native/front/shared.h"

#define MAX_PORTS 8
#define MAX_ROUNDS 100000

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Node 24 binds an abstract name with its exact length: "\0" LOCAL_SOCKET_PREFIX "PORT". */
static int connect_port(int port) {
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  int length = snprintf(address.sun_path + 1, sizeof address.sun_path - 1, LOCAL_SOCKET_PREFIX "%d", port);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&address, offsetof(struct sockaddr_un, sun_path) + 1 + length) < 0) {
    perror("turnaround: connect");
    exit(1);
  }
  return fd;
}

/* Every field of the wire is little-endian: `size` bytes of `value` at `at`; returns the end. */
static unsigned char *put_le(unsigned char *at, uint32_t value, int size) {
  for (int i = 0; i < size; i++) at[i] = (unsigned char)(value >> (8 * i));
  return at + size;
}

static size_t put_frame(unsigned char *at, int type, uint32_t value, const void *payload, size_t length) {
  at[0] = (unsigned char)type;
  put_le(at + 1, value, 4);
  memcpy(at + FRAME_HEADER_SIZE, payload, length);
  return FRAME_HEADER_SIZE + length;
}

static int is_string_frame(int type) {
  return type <= FRAME_STDERR_DATA || type == FRAME_HELLO || type == FRAME_ERROR || type == FRAME_TTY_REQUEST;
}

/* Reads frames until EXIT_CODE; its value, or -1000 when the server closed first. */
static int read_exit(int fd) {
  unsigned char buffer[4096];
  size_t have = 0;
  uint64_t skip = 0; /* payload bytes of a string frame still to pass over */
  for (;;) {
    ssize_t n = read(fd, buffer + have, sizeof buffer - have);
    if (n <= 0) return -1000;
    have += (size_t)n;
    size_t at = 0;
    for (;;) {
      if (skip) {
        size_t take = have - at < skip ? have - at : (size_t)skip;
        at += take;
        skip -= take;
        if (skip) break;
      }
      if (have - at < FRAME_HEADER_SIZE) break;
      int type = buffer[at];
      uint32_t value = buffer[at + 1] | buffer[at + 2] << 8 | buffer[at + 3] << 16 | (uint32_t)buffer[at + 4] << 24;
      at += FRAME_HEADER_SIZE;
      if (type == FRAME_EXIT_CODE) return (int32_t)value;
      if (is_string_frame(type)) skip = value;
    }
    memmove(buffer, buffer + at, have - at);
    have -= at;
  }
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fputs("usage: turnaround ROUNDS GAP_US PORT...\n", stderr);
    return 2;
  }
  int rounds = atoi(argv[1]);
  long gap_us = atol(argv[2]);
  int ports = argc - 3;
  if (rounds < 1 || rounds > MAX_ROUNDS || ports > MAX_PORTS || gap_us < 0) {
    fputs("turnaround: 1-100000 rounds, gap >= 0, at most 8 ports\n", stderr);
    return 2;
  }
  static double times[MAX_PORTS][MAX_ROUNDS];
  unsigned char request[64];
  /* A stub's HELLO: the magic, our protocol version, a client's features and PASSED_STDIO. */
  unsigned char hello[HELLO_SIZE];
  put_le(put_le(put_le(hello, HELLO_MAGIC, 4), PROTOCOL_VERSION, 2), CLIENT_FEATURES | FEATURE_PASSED_STDIO, 4);
  size_t size = put_frame(request, FRAME_HELLO, sizeof hello, hello, sizeof hello);
  size += put_frame(request + size, FRAME_WORKING_DIRECTORY, 0, "", 0);
  size += put_frame(request + size, FRAME_START_COMMAND, 4, "true", 4);
  int null_in = open("/dev/null", O_RDONLY), null_out = open("/dev/null", O_WRONLY);
  int fds[PASSED_FD_COUNT] = {null_in, null_out, null_out};
  for (int round = -3; round < rounds; round++) { /* three warm-up rounds, not kept */
    for (int p = 0; p < ports; p++) {
      int fd = connect_port(atoi(argv[3 + p]));
      double until = now_ms() + gap_us / 1e3;
      while (now_ms() < until) {
      }
      union {
        char buffer[CMSG_SPACE(sizeof fds)];
        struct cmsghdr align;
      } control;
      struct iovec iov = {.iov_base = request, .iov_len = size};
      struct msghdr message = {
          .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof control.buffer};
      struct cmsghdr *header = CMSG_FIRSTHDR(&message);
      header->cmsg_level = SOL_SOCKET;
      header->cmsg_type = SCM_RIGHTS;
      header->cmsg_len = CMSG_LEN(sizeof fds);
      memcpy(CMSG_DATA(header), fds, sizeof fds);
      double start = now_ms();
      if (sendmsg(fd, &message, 0) != (ssize_t)size) {
        perror("turnaround: sendmsg");
        return 1;
      }
      int code = read_exit(fd);
      double elapsed = now_ms() - start;
      close(fd);
      if (code != 0) {
        fprintf(stderr, "turnaround: port %s: true ended with %d\n", argv[3 + p], code);
        return 1;
      }
      if (round >= 0) times[p][round] = elapsed;
    }
  }
  for (int p = 0; p < ports; p++) {
    double sum = 0;
    for (int i = 0; i < rounds; i++) sum += times[p][i];
    qsort(times[p], rounds, sizeof(double), compare);
    printf("%s %.3f %.3f %.3f\n", argv[3 + p], times[p][rounds / 2], times[p][rounds * 9 / 10], sum / rounds);
  }
  return 0;
}
