/* FNV-1a 64: the checksum and the key hash of the compiled stub table (docs/native-stubs.md). */
#ifndef K8PSH_FNV_H
#define K8PSH_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static inline uint64_t fnv1a64(const void *data, size_t size) {
  const unsigned char *bytes = data;
  uint64_t hash = FNV_OFFSET;
  for (size_t i = 0; i < size; i++) hash = (hash ^ bytes[i]) * FNV_PRIME;
  return hash;
}

#endif
