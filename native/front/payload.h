/*
 * The payload of the one-file k8psh (docs/build.md, "The front executable"): the runtime files
 * appended after the front executable, a table of them, and a fixed-size trailer at the very end
 * of the file. An installed front carries the trailer only (no entries): its runtime is the
 * directory beside it, named after the build id the trailer holds.
 *
 *   [front executable][file][file]...[table: count entries][trailer]
 */
#ifndef K8PSH_PAYLOAD_H
#define K8PSH_PAYLOAD_H

#include <stdint.h>
#include <sys/types.h>

#define PAYLOAD_MAGIC "K8PSHRT1"
#define PAYLOAD_ID_SIZE 24
#define PAYLOAD_NAME_SIZE 48

/* Little-endian, no padding (sizes checked at compile time in payload.c). */
struct payload_trailer {
  char magic[8];
  char id[PAYLOAD_ID_SIZE]; /* build id, hex, NUL-terminated: names the runtime directory */
  uint64_t table;           /* offset of the entry table */
  uint32_t count;           /* entries in the table; 0 for an installed front */
  uint32_t front;           /* bytes of the front executable at the start of the file */
};

struct payload_entry {
  char name[PAYLOAD_NAME_SIZE]; /* a plain file name, NUL-terminated */
  uint64_t offset;
  uint64_t size;
  uint32_t mode;
  uint32_t reserved;
};

struct payload {
  int fd; /* the executable itself, read-only, close-on-exec */
  off_t size;
  struct payload_trailer trailer;
  struct payload_entry *entries; /* trailer.count of them */
};

/* Reads and checks the trailer and table of the file open on fd; 0, or -1 with errno set. */
int payload_open(int fd, struct payload *payload);

/* Copies size bytes at offset of in to the current position of out; 0, or -1 with errno set. */
int copy_range(int in, off_t offset, uint64_t size, int out);

#endif
