/* The server's frames, read as src/protocol/{codec,client-session}.ts read them (frames.h). */
#include "frames.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void frames_init(struct frames *frames) {
  frames->state = FRAMES_MORE;
  frames->header_fill = 0;
  frames->remaining = 0;
  frames->collecting = 0;
  frames->fill = 0;
  frames->has_exit_signal = 0;
  frames->received = 0;
  frames->message[0] = '\0';
}

static const char *frame_name(unsigned type) {
  static const char *const base[] = {FRAME_NAMES_ORIGINAL};
  static const char *const ours[] = {FRAME_NAMES_OURS};
  if (type <= FRAME_EXIT_CODE) return base[type];
  return ours[type - FRAME_HELLO]; /* only called for known types */
}

static int known(unsigned type) { return type <= FRAME_EXIT_CODE || (type >= FRAME_HELLO && type <= FRAME_WINDOW_SIZE); }

static int string_frame(unsigned type) {
  return type <= FRAME_STDERR_DATA || type == FRAME_HELLO || type == FRAME_ERROR || type == FRAME_TTY_REQUEST;
}

static int data_frame(unsigned type) { return type >= FRAME_STDIN_DATA && type <= FRAME_STDERR_DATA; }

static uint32_t u32(const unsigned char *bytes) {
  return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
}

/* A protocol error: the message (as codec.ts/client-session.ts word it), and nothing more is read. */
__attribute__((format(printf, 2, 3))) static void broken(struct frames *frames, const char *format, ...) {
  va_list arguments;
  va_start(arguments, format);
  vsnprintf(frames->message, sizeof frames->message, format, arguments);
  va_end(arguments);
  frames->state = FRAMES_BROKEN;
}

/* A value frame (client-session.ts onValue). */
static void value_frame(struct frames *frames, unsigned type, uint32_t value) {
  if (type == FRAME_EXIT_CODE) {
    frames->exit_code = (int32_t)value;
    frames->state = FRAMES_EXIT;
  } else if (type == FRAME_EXIT_SIGNAL) {
    frames->has_exit_signal = 1;
    frames->exit_signal = value;
  } else {
    broken(frames, "unexpected %s from the server", frame_name(type));
  }
}

/* A whole control string frame (client-session.ts onString). */
static void string_done(struct frames *frames, const struct frames_sink *sink) {
  const unsigned char *payload = frames->collected;
  if (frames->type == FRAME_HELLO) {
    if (frames->fill < HELLO_SIZE || u32(payload) != HELLO_MAGIC) return broken(frames, "malformed HELLO frame");
    unsigned version = (unsigned)payload[4] | (unsigned)payload[5] << 8;
    if (version < 1 || version > PROTOCOL_VERSION)
      broken(frames, "the server speaks protocol version %u, this client 1 to %d", version, PROTOCOL_VERSION);
  } else if (frames->type == FRAME_ERROR) {
    sink->error(sink->context, payload, frames->fill);
  } else {
    broken(frames, "unexpected %s from the server", frame_name(frames->type));
  }
}

/* A complete header (codec.ts frame()). */
static void header_done(struct frames *frames, const struct frames_sink *sink) {
  unsigned type = frames->header[0];
  uint32_t value = u32(frames->header + 1);
  if (!known(type)) return broken(frames, "unknown frame type %u", type);
  if (!string_frame(type)) return value_frame(frames, type, value);
  frames->type = type;
  if (data_frame(type)) {
    if (value == 0) return; /* a stream ended, or the command closed its stdin: nothing to do */
    if (value > FRAMES_MAX_DATA)
      return broken(frames, "data frame of %lu bytes exceeds the limit of %u", (unsigned long)value, FRAMES_MAX_DATA);
    frames->collecting = 0;
    frames->remaining = value;
    return;
  }
  if (value > FRAMES_MAX_CONTROL)
    return broken(frames, "frame of %lu bytes exceeds the limit of %u", (unsigned long)value, FRAMES_MAX_CONTROL);
  frames->collecting = 1;
  frames->fill = 0;
  frames->remaining = value;
  if (value == 0) string_done(frames, sink);
}

/* Payload bytes of the current frame; returns how many were used. */
static size_t payload(struct frames *frames, const unsigned char *bytes, size_t size, const struct frames_sink *sink) {
  size_t take = size < frames->remaining ? size : frames->remaining;
  frames->remaining -= (uint32_t)take;
  if (frames->collecting) {
    /* remaining never exceeded FRAMES_MAX_CONTROL: fill + take fits. */
    memcpy(frames->collected + frames->fill, bytes, take);
    frames->fill += take;
    if (frames->remaining == 0) string_done(frames, sink);
  } else if (frames->type == FRAME_STDIN_DATA) {
    broken(frames, "STDIN_DATA with a payload from the server");
  } else {
    sink->data(sink->context, frames->type == FRAME_STDOUT_DATA ? 1 : 2, bytes, take);
  }
  return take;
}

enum frames_state frames_push(struct frames *frames, const unsigned char *bytes, size_t size,
                              const struct frames_sink *sink) {
  if (frames->state != FRAMES_MORE) return frames->state;
  frames->received += size;
  size_t offset = 0;
  while (offset < size && frames->state == FRAMES_MORE) {
    if (frames->remaining > 0) {
      offset += payload(frames, bytes + offset, size - offset, sink);
      continue;
    }
    size_t take = FRAME_HEADER_SIZE - frames->header_fill;
    if (take > size - offset) take = size - offset;
    memcpy(frames->header + frames->header_fill, bytes + offset, take);
    frames->header_fill += (unsigned)take;
    offset += take;
    if (frames->header_fill == FRAME_HEADER_SIZE) {
      frames->header_fill = 0;
      header_done(frames, sink);
    }
  }
  return frames->state;
}
