/*
 * Test harness for the native stub's frame reader and session (native/front/frames.c, session.c),
 * built by test/front/native-frames.test.ts with AddressSanitizer and UBSan. Not part of the front.
 *
 *   frames-harness cases FILE     FILE holds cases ([u32 length][bytes])...; for each, one line:
 *                                 the outcome of reading it (see describe()). Every case is read
 *                                 twice, whole and in seeded random pieces: both must agree.
 *   frames-harness random N SEED  N random replies (frames of every type, sizes near the limits,
 *                                 garbage), each read whole and in pieces; prints "ok N".
 *   frames-harness socket N SEED  N random replies written into a socketpair to session_run() in a
 *                                 child process; its exit status must be what the reader predicts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../front/frames.h"
#include "../front/session.h"
#include "../front/utf8.h"

static uint64_t rng;
static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 11);
}

/* What a reading produced: output streams and ERROR messages folded into hashes. */
struct seen {
  uint32_t hash[3]; /* FNV-1a 32 of stdout, stderr, ERROR messages as printed (after "k8psh: ") */
  uint64_t size[3];
};

static void fold(struct seen *seen, int which, const unsigned char *bytes, size_t size) {
  uint32_t hash = seen->hash[which];
  for (size_t i = 0; i < size; i++) hash = (hash ^ bytes[i]) * 0x01000193u;
  seen->hash[which] = hash;
  seen->size[which] += size;
}
static void on_data(void *context, int stream, const unsigned char *bytes, size_t size) {
  fold(context, stream - 1, bytes, size);
}
static void fold_message(void *context, const void *bytes, size_t size) { fold(context, 2, bytes, size); }
static void on_error(void *context, const unsigned char *message, size_t size) {
  utf8_replace(message, size, fold_message, context);
  fold(context, 2, (const unsigned char *)"\n", 1);
}

static struct frames whole, pieces;

/* Reads data into frames, in random pieces when split; returns the state. */
static enum frames_state read_case(struct frames *frames, struct seen *seen, const unsigned char *data, size_t size,
                                   int split) {
  struct frames_sink sink = {on_data, on_error, seen};
  memset(seen, 0, sizeof *seen);
  for (int i = 0; i < 3; i++) seen->hash[i] = 0x811c9dc5u;
  frames_init(frames);
  enum frames_state state = FRAMES_MORE;
  for (size_t offset = 0; offset < size;) {
    size_t take = split ? 1 + next() % (next() % 4 == 0 ? 7 : 70000) : size;
    if (take > size - offset) take = size - offset;
    state = frames_push(frames, data + offset, take, &sink);
    offset += take;
  }
  return state;
}

static void describe(const struct frames *frames, enum frames_state state, const struct seen *seen, char *out,
                     size_t size) {
  const char *name = state == FRAMES_EXIT ? "exit" : state == FRAMES_BROKEN ? "broken" : "more";
  int signal = state == FRAMES_EXIT && frames->has_exit_signal;
  snprintf(out, size, "%s code=%d signal=%s%u out=%llu:%08x err=%llu:%08x errors=%llu:%08x message=%s", name,
           state == FRAMES_EXIT ? frames->exit_code : 0, signal ? "" : "-", signal ? frames->exit_signal : 0,
           (unsigned long long)seen->size[0], seen->hash[0], (unsigned long long)seen->size[1], seen->hash[1],
           (unsigned long long)seen->size[2], seen->hash[2], state == FRAMES_BROKEN ? frames->message : "");
}

/* Reads one case whole and in pieces; the two must agree. Writes the outcome line. */
static enum frames_state check_case(const unsigned char *data, size_t size, char *line, size_t line_size) {
  struct seen a, b;
  char other[512];
  enum frames_state state = read_case(&whole, &a, data, size, 0);
  describe(&whole, state, &a, line, line_size);
  enum frames_state split = read_case(&pieces, &b, data, size, 1);
  describe(&pieces, split, &b, other, sizeof other);
  if (strcmp(line, other) != 0) {
    fprintf(stderr, "whole and split differ:\n%s\n%s\n", line, other);
    exit(3);
  }
  return state;
}

/* A random server reply: mostly well-formed frames, sometimes sizes at the limits, sometimes garbage. */
static size_t random_reply(unsigned char *out, size_t capacity) {
  static const unsigned types[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 9, 0x3f, 0x46, 255};
  size_t size = 0;
  int frames = (int)(next() % 8);
  for (int f = 0; f < frames && size + 64 < capacity; f++) {
    /* Every type, with the usual ones (data, ERROR, HELLO, EXIT_SIGNAL, EXIT_CODE) more often. */
    static const unsigned usual[] = {5, 6, 0x41, 0x40, 0x43, 8};
    unsigned type = next() % 3 ? types[next() % (sizeof types / sizeof *types)] : usual[next() % 6];
    uint32_t value;
    switch (next() % 8) {
    case 0: value = FRAMES_MAX_CONTROL - 1 + next() % 3; break;
    case 1: value = FRAMES_MAX_DATA + next() % 2; break;
    case 2: value = next(); break;
    case 3: value = HELLO_SIZE; break;
    default: value = next() % 64;
    }
    if (type == 8 || type == 0x43 || type == 7 || type == 0x42 || type == 0x45) value = next() % 3 ? next() % 40 : next();
    out[size++] = (unsigned char)type;
    for (int i = 0; i < 4; i++) out[size++] = (unsigned char)(value >> (8 * i));
    int string = type <= 6 || type == 0x40 || type == 0x41 || type == 0x44;
    if (!string) continue;
    size_t payload = value;
    if (payload > capacity - size) payload = next() % (capacity - size); /* a reply cut short */
    if (type == 0x40 && payload >= HELLO_SIZE && next() % 4) {
      const unsigned char hello[HELLO_SIZE] = {0x6b, 0x38, 0x70, 0x32, (unsigned char)(next() % 3), 0, 15, 0, 0, 0};
      memcpy(out + size, hello, HELLO_SIZE);
      for (size_t i = HELLO_SIZE; i < payload; i++) out[size + i] = (unsigned char)next();
    } else {
      /* Random bytes, then (for large payloads, to stay fast) a repeated one. */
      size_t random = payload < 4096 ? payload : 4096;
      for (size_t i = 0; i < random; i++) out[size + i] = (unsigned char)next();
      memset(out + size + random, (int)(next() & 0xff), payload - random);
    }
    size += payload;
    if (payload < value) break;
  }
  if (next() % 10 == 0) /* trailing garbage */
    for (int i = next() % 9; i > 0 && size < capacity; i--) out[size++] = (unsigned char)next();
  return size;
}

/* The exit status session_run() must give for a reply the reader sees as state. */
static int expected_status(enum frames_state state) {
  if (state == FRAMES_BROKEN) return 255 << 8;
  if (state == FRAMES_MORE) return whole.received == 0 ? 200 << 8 : 255 << 8;
  int known = whole.has_exit_signal && whole.exit_signal >= 1 && whole.exit_signal <= 31;
  int signal = known ? (int)whole.exit_signal : 0;
  int code = known ? 128 + signal : whole.exit_code;
  switch (signal) {
  case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS: case SIGFPE: case SIGSEGV: case SIGSYS:
  case SIGXCPU: case SIGXFSZ: case SIGPIPE: case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:
  case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU: case 0:
    return (code & 0xff) << 8; /* not raised, ignored by default, or stopped and continued */
  default:
    return signal; /* died by it */
  }
}

static int run_socket(const unsigned char *data, size_t size) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(pair[0]);
    /* The command's output is not what is checked here. */
    if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(202);
    if (session_prepare(0) != 0) _exit(201);
    session_run(pair[1]);
    _exit(200);
  }
  close(pair[1]);
  for (size_t offset = 0; offset < size;) {
    ssize_t sent = send(pair[0], data + offset, size - offset, MSG_NOSIGNAL);
    if (sent <= 0) break; /* the session ended before reading it all */
    offset += (size_t)sent;
  }
  close(pair[0]);
  int status;
  while (waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status)) kill(pid, SIGCONT);
  return status;
}

int main(int argc, char **argv) {
  static unsigned char data[40 << 20];
  char line[512];
  if (argc == 3 && strcmp(argv[1], "cases") == 0) {
    FILE *file = fopen(argv[2], "rb");
    unsigned char length[4];
    rng = 0x9e3779b97f4a7c15ULL;
    while (file && fread(length, 1, 4, file) == 4) {
      size_t size = (size_t)length[0] | (size_t)length[1] << 8 | (size_t)length[2] << 16 | (size_t)length[3] << 24;
      if (size > sizeof data || fread(data, 1, size, file) != size) return 2;
      check_case(data, size, line, sizeof line);
      puts(line);
    }
    return file ? 0 : 2;
  }
  if (argc == 4 && (strcmp(argv[1], "random") == 0 || strcmp(argv[1], "socket") == 0)) {
    long count = strtol(argv[2], NULL, 10);
    rng = strtoull(argv[3], NULL, 10) | 1;
    int socket_mode = strcmp(argv[1], "socket") == 0;
    for (long i = 0; i < count; i++) {
      size_t size = random_reply(data, next() % 64 ? 4096 : sizeof data);
      enum frames_state state = check_case(data, size, line, sizeof line);
      if (!socket_mode) continue;
      int status = run_socket(data, size), expected = expected_status(state);
      if (status != expected) {
        fprintf(stderr, "case %ld: status %#x, expected %#x (%s)\n", i, status, expected, line);
        return 4;
      }
    }
    printf("ok %ld\n", count);
    return 0;
  }
  fprintf(stderr, "usage: frames-harness cases FILE | random N SEED | socket N SEED\n");
  return 2;
}
