/*
 * The server's side of a passed-descriptor session, as the native stub reads it: a pure reader
 * (bytes in, calls out, no I/O), the same rules and the same messages as the TypeScript client's
 * decoder (src/protocol/codec.ts) and session (src/protocol/client-session.ts). Data frames stream
 * through in pieces; HELLO and ERROR payloads are collected into a fixed buffer of the TypeScript
 * limit, whatever length a header announces.
 */
#ifndef K8PSH_FRAMES_H
#define K8PSH_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_SIZE 5
#define FRAMES_MAX_CONTROL (1u << 20) /* DEFAULT_LIMITS.maxFramePayload */
#define FRAMES_MAX_DATA (16u << 20)   /* DEFAULT_LIMITS.maxDataPayload */

/* Frame types (src/protocol/constants.ts). */
enum {
  FRAME_WORKING_DIRECTORY = 0,
  FRAME_ENVIRONMENT_VARIABLE = 1,
  FRAME_COMMAND_ARGUMENT = 2,
  FRAME_START_COMMAND = 3,
  FRAME_STDIN_DATA = 4,
  FRAME_STDOUT_DATA = 5,
  FRAME_STDERR_DATA = 6,
  FRAME_TERMINATE_COMMAND = 7,
  FRAME_EXIT_CODE = 8,
  FRAME_HELLO = 0x40,
  FRAME_ERROR = 0x41,
  FRAME_SIGNAL = 0x42,
  FRAME_EXIT_SIGNAL = 0x43,
  FRAME_TTY_REQUEST = 0x44,
  FRAME_WINDOW_SIZE = 0x45,
};

#define HELLO_MAGIC 0x3270386bu /* "k8p2" little-endian */
#define HELLO_SIZE 10
#define PROTOCOL_VERSION 1

/* Where the reader's findings go. */
struct frames_sink {
  /* A piece of STDOUT_DATA (stream 1) or STDERR_DATA (stream 2). */
  void (*data)(void *context, int stream, const unsigned char *bytes, size_t size);
  /* An ERROR frame's message (raw bytes), to print as `k8psh: <message>`. */
  void (*error)(void *context, const unsigned char *message, size_t size);
  void *context;
};

enum frames_state {
  FRAMES_MORE,   /* waiting for more bytes */
  FRAMES_EXIT,   /* EXIT_CODE arrived: exit_code, exit_signal; nothing after it is looked at */
  FRAMES_BROKEN, /* protocol error: message */
};

struct frames {
  enum frames_state state;
  unsigned char header[FRAME_HEADER_SIZE];
  unsigned header_fill;
  unsigned type;      /* of the frame whose payload is being read */
  uint32_t remaining; /* payload bytes still to come; 0 while reading a header */
  int collecting;     /* the payload goes to collected (HELLO, ERROR, unexpected strings) */
  size_t fill;
  int32_t exit_code;
  int has_exit_signal;
  uint32_t exit_signal;
  uint64_t received; /* bytes pushed in all: none before a close means nothing ran */
  char message[128];
  unsigned char collected[FRAMES_MAX_CONTROL];
};

void frames_init(struct frames *frames);

/* Reads size bytes; returns the state after them (later calls change nothing once not FRAMES_MORE). */
enum frames_state frames_push(struct frames *frames, const unsigned char *bytes, size_t size,
                              const struct frames_sink *sink);

#endif
