/* The session loop of the native stub (session.h). */
#define _GNU_SOURCE
#include "session.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frames.h"
#include "modes.h"
#include "utf8.h"

/* The forwarded signals (src/shared-rules.ts), then SIGWINCH (a passed terminal's resizes); SIGPIPE last. */
static const int SIGNALS[] = {FORWARDED_SIGNALS, SIGWINCH, SIGPIPE};
#define FORWARDED (sizeof(int[]){FORWARDED_SIGNALS} / sizeof(int))
#define COUNT (sizeof SIGNALS / sizeof *SIGNALS)

static struct {
  int fd; /* the signalfd, -1 when not prepared */
  int terminal;
  sigset_t mask; /* the caller's */
  struct sigaction actions[COUNT];
  int first; /* the first forwarded signal that ends a command (not SIGWINCH), 0 before */
} signals = {.fd = -1};

/* Large: kept out of the stack, and only touched as far as a frame fills it. */
static struct frames reader;

static int handled(size_t i) { return i < FORWARDED || (SIGNALS[i] == SIGWINCH && signals.terminal); }

int session_prepare(int terminal) {
  signals.terminal = terminal;
  sigset_t set;
  sigemptyset(&set);
  for (size_t i = 0; i < COUNT; i++)
    if (handled(i)) sigaddset(&set, SIGNALS[i]);
  if (sigprocmask(SIG_BLOCK, &set, &signals.mask) != 0) return -1;
  signals.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signals.fd < 0) {
    sigprocmask(SIG_SETMASK, &signals.mask, NULL);
    return -1;
  }
  /* Blocked first, then made default: an ignored signal would be discarded instead of queued. */
  for (size_t i = 0; i < COUNT; i++) {
    if (!handled(i) && SIGNALS[i] != SIGPIPE) continue;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIGNALS[i] == SIGPIPE ? SIG_IGN : SIG_DFL;
    sigaction(SIGNALS[i], &action, &signals.actions[i]);
  }
  return 0;
}

void session_unprepare(void) {
  if (signals.fd < 0) return;
  for (size_t i = 0; i < COUNT; i++)
    if (handled(i) || SIGNALS[i] == SIGPIPE) sigaction(SIGNALS[i], &signals.actions[i], NULL);
  sigprocmask(SIG_SETMASK, &signals.mask, NULL);
  close(signals.fd);
  signals.fd = -1;
}

/* Default action dumps core: reported as 128+N, never raised (src/shared-rules.ts CORE_SIGNALS). */
static int core_signal(int signal) {
  static const int core[] = {CORE_SIGNALS};
  for (size_t i = 0; i < sizeof core / sizeof *core; i++)
    if (core[i] == signal) return 1;
  return 0;
}

void session_exit(int code, int signal) {
  modes_restore();
  if (signal > 0 && !core_signal(signal)) {
    /* Node ignores SIGPIPE (and SIGXFSZ) from its start: raising it there changes nothing, so the
     * TypeScript client exits 141; the native stub does the same. Every other signal is default. */
    if (signal != SIGPIPE) {
      struct sigaction action;
      memset(&action, 0, sizeof action);
      action.sa_handler = SIG_DFL;
      sigaction(signal, &action, NULL);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signal);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    kill(getpid(), signal);
  }
  exit(code & 0xff);
}

/* src/client/outcome.ts exitOutcome: a known signal number makes it 128+N and that signal. */
__attribute__((noreturn)) static void exit_outcome(void) {
  int known = reader.has_exit_signal && reader.exit_signal >= 1 && reader.exit_signal <= 31;
  if (known) session_exit(128 + (int)reader.exit_signal, (int)reader.exit_signal);
  session_exit(reader.exit_code, 0);
}

__attribute__((noreturn)) static void fail(const char *prefix, const char *message) {
  modes_restore();
  char line[256];
  size_t size = (size_t)snprintf(line, sizeof line, "k8psh: %s%s\n", prefix, message);
  write_all(2, line, size < sizeof line ? size : sizeof line - 1);
  exit(EXIT_STATUS_CONNECTION_FAILURE);
}

static void on_data(void *context, int stream, const unsigned char *bytes, size_t size) {
  (void)context;
  write_all(stream, bytes, size);
}

static void on_error(void *context, const unsigned char *message, size_t size) {
  (void)context;
  write_all(2, "k8psh: ", 7);
  utf8_write_replaced(2, message, size);
  write_all(2, "\n", 1);
}

static const struct frames_sink SINK = {on_data, on_error, NULL};

/* Forwards what the signalfd holds; a failed send means the server is gone: the read reports it. */
static void forward_signals(int sock) {
  struct signalfd_siginfo info;
  while (read(signals.fd, &info, sizeof info) == (ssize_t)sizeof info) {
    int signal = (int)info.ssi_signo;
    if (signal != SIGWINCH && signals.first == 0) signals.first = signal;
    unsigned char frame[FRAME_HEADER_SIZE] = {FRAME_SIGNAL, (unsigned char)signal, 0, 0, 0};
    while (send(sock, frame, sizeof frame, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
  }
}

void session_run(int sock) {
  frames_init(&reader);
  unsigned char buffer[64 * 1024];
  for (;;) {
    struct pollfd fds[2] = {{.fd = sock, .events = POLLIN}, {.fd = signals.fd, .events = POLLIN}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break; /* cannot wait any more: as a lost connection */
    }
    if (fds[1].revents & POLLIN) forward_signals(sock);
    if (fds[0].revents == 0) continue;
    ssize_t got = read(sock, buffer, sizeof buffer);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) break;
    switch (frames_push(&reader, buffer, (size_t)got, &SINK)) {
    case FRAMES_MORE:
      continue;
    case FRAMES_EXIT:
      exit_outcome();
    case FRAMES_BROKEN:
      fail("protocol error from the server: ", reader.message);
    }
  }
  /* Closed. Nothing at all came back, not even HELLO: nothing ran, the TypeScript client takes over. */
  if (reader.received == 0) {
    close(sock);
    session_unprepare();
    return;
  }
  if (signals.first) session_exit(128 + signals.first, signals.first);
  fail("", "connection to the server was lost before the command finished");
}
