/* Building the request (request.h). */
#include "request.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"

/* Room for size more bytes; 0 when there is none (failed is then set). */
static int reserve(struct request *request, size_t size) {
  if (request->failed) return 0;
  if (size <= request->capacity - request->size) return 1;
  size_t capacity = request->capacity ? request->capacity : 4096;
  while (capacity - request->size < size) {
    if (capacity > SIZE_MAX / 2) {
      request->failed = 1;
      return 0;
    }
    capacity *= 2;
  }
  unsigned char *data = realloc(request->data, capacity);
  if (!data) {
    request->failed = 1;
    return 0;
  }
  request->data = data;
  request->capacity = capacity;
  return 1;
}

static void append(struct request *request, const void *bytes, size_t size) {
  if (size == 0 || !reserve(request, size)) return;
  memcpy(request->data + request->size, bytes, size);
  request->size += size;
}

static void header(struct request *request, unsigned type, size_t size) {
  if (size > UINT32_MAX) {
    request->failed = 1;
    return;
  }
  unsigned char bytes[FRAME_HEADER_SIZE] = {(unsigned char)type, (unsigned char)size, (unsigned char)(size >> 8),
                                            (unsigned char)(size >> 16), (unsigned char)(size >> 24)};
  append(request, bytes, sizeof bytes);
}

void request_hello(struct request *request) {
  const uint32_t magic = HELLO_MAGIC, features = REQUEST_FEATURES;
  unsigned char payload[HELLO_SIZE] = {
      (unsigned char)magic,    (unsigned char)(magic >> 8),     (unsigned char)(magic >> 16),
      (unsigned char)(magic >> 24), PROTOCOL_VERSION & 0xff,   PROTOCOL_VERSION >> 8,
      (unsigned char)features, (unsigned char)(features >> 8), (unsigned char)(features >> 16),
      (unsigned char)(features >> 24)};
  request_string(request, FRAME_HELLO, payload, sizeof payload);
}

void request_string(struct request *request, unsigned type, const void *bytes, size_t size) {
  header(request, type, size);
  append(request, bytes, size);
}

void request_variable(struct request *request, const void *name, size_t name_size, const char *value) {
  size_t value_size = strlen(value);
  header(request, FRAME_ENVIRONMENT_VARIABLE, name_size + 1 + value_size);
  append(request, name, name_size);
  append(request, "=", 1);
  append(request, value, value_size);
}

void request_free(struct request *request) {
  free(request->data);
  request->data = NULL;
}
