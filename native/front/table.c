/* Reading and checking the compiled stub table (table.h); every length is checked against what is left. */
#define _GNU_SOURCE
#include "table.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fnv.h"
#include "shared.h"

/* A bounded reader over the body: any read past the end sets failed and yields nothing. */
struct cursor {
  const unsigned char *at, *end;
  int failed;
};

static const unsigned char *take(struct cursor *cursor, size_t size) {
  if (cursor->failed || (size_t)(cursor->end - cursor->at) < size) {
    cursor->failed = 1;
    return NULL;
  }
  const unsigned char *start = cursor->at;
  cursor->at += size;
  return start;
}

static uint32_t u32(const unsigned char *bytes) {
  return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
}

static uint64_t u64(const unsigned char *bytes) { return (uint64_t)u32(bytes) | (uint64_t)u32(bytes + 4) << 32; }

static uint32_t read_u32(struct cursor *cursor) {
  const unsigned char *bytes = take(cursor, 4);
  return bytes ? u32(bytes) : 0;
}

static struct table_string read_str(struct cursor *cursor) {
  struct table_string string = {NULL, read_u32(cursor)};
  string.bytes = take(cursor, string.size);
  if (!string.bytes) string.size = 0;
  return string;
}

/* opt: 0 absent (returns 0), 1 present (returns 1, *string set); anything else fails the cursor. */
static int read_opt(struct cursor *cursor, struct table_string *string) {
  const unsigned char *flag = take(cursor, 1);
  if (!flag || *flag == 0) return 0;
  if (*flag != 1) {
    cursor->failed = 1;
    return 0;
  }
  *string = read_str(cursor);
  return !cursor->failed;
}

static int equals(struct table_string string, const char *text, size_t size) {
  return string.size == size && (size == 0 || memcmp(string.bytes, text, size) == 0);
}

/* Reads the whole regular file on fd (at most max bytes, the size known from fstat) into a new buffer. */
static unsigned char *read_whole(int fd, size_t size) {
  unsigned char *data = malloc(size ? size : 1);
  if (!data) return NULL;
  size_t fill = 0;
  while (fill < size) {
    ssize_t got = read(fd, data + fill, size - fill);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    fill += (size_t)got;
  }
  char extra;
  /* Shorter or longer than fstat said: changed under us, not the file we checked. */
  if (fill != size || read(fd, &extra, 1) != 0) {
    free(data);
    return NULL;
  }
  return data;
}

/*
 * Whether a configuration file, or the directory of ./k8psh.conf (directory), may be trusted: the
 * rule of src/config/trust.ts (docs/configuration.md, "Who may write the configuration") without
 * its group exception. Anything this refuses hands over, and the TypeScript client then refuses it
 * with its message, or accepts a file writable only by its owner's private group.
 */
static int trusted(const struct stat *status, int directory) {
  /* Someone else's: its owner can rewrite it whatever its mode says now. */
  if (status->st_uid != geteuid() && status->st_uid != 0) return 0;
  /* A sticky directory (/tmp): nobody else can rename or remove our file in it. */
  if (directory && (status->st_mode & S_ISVTX)) return 1;
  /* Writable by others, or by a group that may be more than its owner. */
  return (status->st_mode & 022) == 0;
}

/*
 * NULL when the file at path holds exactly the recorded bytes and may be trusted, else why not
 * (compared in pieces: nothing allocated; checked and read through one descriptor).
 */
static const char *same_content(const char *path, struct table_string content) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return "configuration changed";
  struct stat status;
  int same = fstat(fd, &status) == 0 && S_ISREG(status.st_mode) && status.st_size == (off_t)content.size;
  /* The same bytes in a file others may now write (or another owner's copy): not ours to use. */
  if (same && !trusted(&status, 0)) {
    close(fd);
    return "the configuration is not trusted";
  }
  unsigned char piece[16384];
  size_t offset = 0;
  while (same) {
    ssize_t got = read(fd, piece, sizeof piece);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) same = 0;
    if (got <= 0) break;
    if ((size_t)got > content.size - offset || memcmp(piece, content.bytes + offset, (size_t)got) != 0)
      same = 0;
    offset += (size_t)got;
  }
  close(fd);
  return same && offset == content.size ? NULL : "configuration changed";
}

/* Checks the body against the world as it is now; NULL when it holds, else what failed. */
static const char *check_body(struct cursor *cursor, const char *build_id, const char *key,
                              const char *config_variable, table_lookup lookup, struct table *table) {
  if (!equals(read_str(cursor), build_id, strlen(build_id))) return cursor->failed ? "truncated" : "another build";
  if (!equals(read_str(cursor), key, strlen(key))) return cursor->failed ? "truncated" : "another key";
  struct table_string recorded = {NULL, 0};
  int present = read_opt(cursor, &recorded);
  if (cursor->failed) return "truncated";
  if (present != (config_variable != NULL) ||
      (present && !equals(recorded, config_variable, strlen(config_variable))))
    return SWITCH_CONFIG " changed";
  struct table_string content = read_str(cursor);
  if (cursor->failed) return "truncated";
  if (content.size > TABLE_MAX_CONFIG) return "configuration too large";
  /* The relative default (no K8PSH_CONFIG: the key is the current directory's k8psh.conf): whoever
     may rename files in that directory chooses the file, so it must be trusted too. */
  struct stat directory;
  if (!config_variable && (stat(".", &directory) != 0 || !trusted(&directory, 1)))
    return "the configuration is not trusted";
  const char *why = same_content(key, content);
  if (why) return why;
  uint32_t variables = read_u32(cursor);
  for (uint32_t i = 0; i < variables && !cursor->failed; i++) {
    struct table_string name = read_str(cursor), value = {NULL, 0};
    int set = read_opt(cursor, &value);
    if (cursor->failed) break;
    const char *now = memchr(name.bytes, '\0', name.size) ? NULL : lookup((const char *)name.bytes, name.size);
    if (set != (now != NULL) || (set && !equals(value, now, strlen(now)))) return "a variable changed";
  }
  table->base = read_str(cursor);
  const unsigned char *timeout = take(cursor, 8);
  table->connect_timeout_ms = timeout ? (int64_t)u64(timeout) : 0;
  table->count = read_u32(cursor);
  table->commands = cursor->at;
  for (uint32_t i = 0; i < table->count && !cursor->failed; i++) {
    read_str(cursor);
    read_str(cursor);
    if (read_u32(cursor) > 65535) return "bad port";
    read_u32(cursor); /* the server's uid: any value, TABLE_NO_UID for none */
    uint32_t names = read_u32(cursor);
    for (uint32_t j = 0; j < names && !cursor->failed; j++) read_str(cursor);
  }
  if (cursor->failed) return "truncated";
  if (cursor->at != cursor->end) return "trailing bytes";
  if (table->base.size == 0 || table->base.bytes[0] != '/' || memchr(table->base.bytes, '\0', table->base.size))
    return "bad base directory";
  return NULL;
}

int table_load(const char *path, const char *build_id, const char *key, const char *config_variable,
               table_lookup lookup, struct table *table, const char **why) {
  memset(table, 0, sizeof *table);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    *why = errno == ENOENT ? "missing" : "cannot be opened";
    return -1;
  }
  struct stat status;
  *why = NULL;
  if (fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) *why = "not a regular file";
  else if (status.st_uid != geteuid() || (status.st_mode & 022)) *why = "not ours alone";
  else if (status.st_size < TABLE_HEADER_SIZE || status.st_size > TABLE_HEADER_SIZE + (off_t)TABLE_MAX_BODY)
    *why = "bad size";
  else if (!(table->data = read_whole(fd, (size_t)status.st_size))) *why = "changed while read";
  close(fd);
  if (*why) return -1;
  table->size = (size_t)status.st_size;
  const unsigned char *header = table->data;
  size_t body = table->size - TABLE_HEADER_SIZE;
  if (memcmp(header, TABLE_MAGIC, 8) != 0) *why = "bad magic";
  else if (u32(header + 8) != body || u32(header + 12) != 0) *why = "bad header";
  else if (u64(header + 16) != fnv1a64(header + TABLE_HEADER_SIZE, body)) *why = "checksum";
  else {
    struct cursor cursor = {header + TABLE_HEADER_SIZE, header + table->size, 0};
    *why = check_body(&cursor, build_id, key, config_variable, lookup, table);
  }
  if (!*why) return 0;
  table_free(table);
  return -1;
}

void table_free(struct table *table) {
  free(table->data);
  table->data = NULL;
}

int table_command(const struct table *table, const char *name, size_t size, struct table_command *command) {
  /* The records were all checked by table_load: the cursor cannot fail here. */
  struct cursor cursor = {table->commands, table->data + table->size, 0};
  for (uint32_t i = 0; i < table->count; i++) {
    command->name = read_str(&cursor);
    command->host = read_str(&cursor);
    command->port = read_u32(&cursor);
    command->server_uid = read_u32(&cursor);
    command->variables = read_u32(&cursor);
    command->names = cursor.at;
    command->end = cursor.end;
    for (uint32_t j = 0; j < command->variables; j++) read_str(&cursor);
    if (cursor.failed) return 0;
    if (equals(command->name, name, size)) return 1;
  }
  return 0;
}

struct table_string table_next_variable(const struct table_command *command, const unsigned char **at) {
  /* Records checked at load: the names are within them. */
  struct cursor cursor = {*at, command->end, 0};
  struct table_string string = read_str(&cursor);
  *at = cursor.at;
  return string;
}
