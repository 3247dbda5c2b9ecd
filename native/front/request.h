/*
 * The request bytes of a passed-descriptor session, byte for byte what src/client/direct.ts sends
 * (encodeRequest): HELLO (CLIENT_FEATURES | PASSED_STDIO), WORKING_DIRECTORY, COMMAND_ARGUMENT each,
 * ENVIRONMENT_VARIABLE `NAME=value` each, START_COMMAND. Sized by our own argv and environment only.
 */
#ifndef K8PSH_REQUEST_H
#define K8PSH_REQUEST_H

#include <stddef.h>

#include "shared.h"

/* What a client asks for, and its descriptors passed (src/client/direct.ts). */
#define REQUEST_FEATURES (CLIENT_FEATURES | FEATURE_PASSED_STDIO)

struct request {
  unsigned char *data;
  size_t size, capacity;
  int failed; /* out of memory, or a string longer than a frame can say */
};

/* HELLO: magic, protocol version, features. */
void request_hello(struct request *request);

/* A string frame of the given type. */
void request_string(struct request *request, unsigned type, const void *bytes, size_t size);

/* ENVIRONMENT_VARIABLE "name=value". */
void request_variable(struct request *request, const void *name, size_t name_size, const char *value);

void request_free(struct request *request);

#endif
