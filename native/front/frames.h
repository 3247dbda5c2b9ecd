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

#include "shared.h" /* frame types, HELLO, limits: generated from src/protocol/constants.ts */

#define FRAMES_MAX_CONTROL LIMIT_MAX_FRAME_PAYLOAD
#define FRAMES_MAX_DATA LIMIT_MAX_DATA_PAYLOAD

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
