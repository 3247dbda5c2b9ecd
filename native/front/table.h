/*
 * The compiled stub table (docs/native-stubs.md, "The compiled table"): written by the TypeScript
 * client, read here. It is used only when every byte of it checks out and everything it was
 * computed from (build, key, K8PSH_CONFIG, the configuration's bytes, the variables the loader read)
 * still holds; anything else is "not valid" and the stub hands over.
 */
#ifndef K8PSH_TABLE_H
#define K8PSH_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define TABLE_MAGIC "K8PSHNS2"
/* A command's server uid when its section names none (--server-uid). */
#define TABLE_NO_UID 0xffffffffu
#define TABLE_HEADER_SIZE 24
#define TABLE_MAX_BODY (4u << 20)
#define TABLE_MAX_CONFIG (1u << 20)

/* A string inside the table: not NUL-terminated. */
struct table_string {
  const unsigned char *bytes;
  uint32_t size;
};

struct table {
  unsigned char *data; /* the whole file, malloc'ed (at most header + TABLE_MAX_BODY) */
  size_t size;
  struct table_string base; /* baseDirectory, as configured */
  int64_t connect_timeout_ms;
  const unsigned char *commands; /* the command records, count of them */
  uint32_t count;
};

struct table_command {
  struct table_string name, host;
  uint32_t port;
  uint32_t server_uid;           /* --server-uid of its section, or TABLE_NO_UID */
  uint32_t variables;            /* names to send, as str records at... */
  const unsigned char *names;    /* ...this position */
  const unsigned char *end;      /* the end of the table */
};

/* The caller's value of a variable, NULL when unset (as the TypeScript side's view sees it). */
typedef const char *(*table_lookup)(const char *name, size_t size);

/*
 * Reads the table at path and checks it against build_id, key (NUL-terminated), K8PSH_CONFIG
 * (config_variable: NULL when unset), the configuration file at key, and every recorded variable
 * through lookup. 0 and *table filled (free with table_free), or -1 with *why saying what failed
 * (a static string: "missing", "checksum", ...).
 */
int table_load(const char *path, const char *build_id, const char *key, const char *config_variable,
               table_lookup lookup, struct table *table, const char **why);

void table_free(struct table *table);

/* The command called name (size bytes): 1 and *command filled, or 0. */
int table_command(const struct table *table, const char *name, size_t size, struct table_command *command);

/*
 * The next name of command's variables to send, in order: *at starts at command->names and moves
 * past the name returned; call it command->variables times.
 */
struct table_string table_next_variable(const struct table_command *command, const unsigned char **at);

#endif
