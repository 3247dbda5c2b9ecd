/* The native stub's decision and request (stub.h). Every check mirrors src/client/run-command.ts. */
#define _GNU_SOURCE
#include "stub.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cache.h"
#include "fnv.h"
#include "frames.h"
#include "modes.h"
#include "request.h"
#include "session.h"
#include "switches.h"
#include "table.h"
#include "../syscalls/unix-connect.h"
#include "utf8.h"
#include "workdir.h"

/* Kept reachable until the process ends (a native call exits from inside session_run). */
static struct table table;
static struct request request;
static char *const *environment;
static char reason[PATH_MAX + 128];

int stub_name(const char *name) {
  static const char *const own[] = {OWN_NAMES};
  static const char *const suffixes[] = {SCRIPT_SUFFIXES};
  for (size_t i = 0; i < sizeof own / sizeof *own; i++)
    if (strcmp(name, own[i]) == 0) return 0;
  size_t length = strlen(name);
  for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
    size_t suffix = strlen(suffixes[i]);
    if (length > suffix && strcmp(name + length - suffix, suffixes[i]) == 0) return 0;
  }
  return 1;
}

/*
 * The caller's variable, as the TypeScript client's view has it (src/runtime/caller-env.ts): the
 * first entry of that name, none of the hidden ones (src/shared-rules.ts HIDDEN_VARIABLES).
 */
static const char *lookup(const char *name, size_t size) {
  static const char *const hidden[] = {HIDDEN_VARIABLES};
  for (size_t i = 0; i < sizeof hidden / sizeof *hidden; i++)
    if (strlen(hidden[i]) == size && memcmp(hidden[i], name, size) == 0) return NULL;
  for (char *const *entry = environment; entry && *entry; entry++)
    if (strncmp(*entry, name, size) == 0 && (*entry)[size] == '=') return *entry + size + 1;
  return NULL;
}

static const char *variable(const char *name) { return lookup(name, strlen(name)); }

/* A reason with details, in the static buffer. */
__attribute__((format(printf, 1, 2))) static const char *because(const char *format, ...) {
  va_list arguments;
  va_start(arguments, format);
  vsnprintf(reason, sizeof reason, format, arguments);
  va_end(arguments);
  return reason;
}

/* The server's local socket (unix-connect.h: exact name, then padded). -errno. */
static int connect_local(uint32_t port) {
  struct sockaddr_un address;
  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  int length = snprintf(address.sun_path + 1, sizeof address.sun_path - 1, LOCAL_SOCKET_PREFIX "%u", (unsigned)port);
  return unix_connect(&address, 1 + (size_t)length);
}

/*
 * NULL when the listener the socket reached was made by a uid we trust: ours, root's, or the one its
 * section names with --server-uid (src/client/listener.ts); else why not. No permission guards an
 * abstract name: anyone in the Pod may hold it, and would get our request and descriptors.
 */
static const char *untrusted_listener(int sock, const struct table_command *command) {
  struct ucred peer;
  socklen_t size = sizeof peer;
  /* The kernel cannot say: nothing is sent. */
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0)
    return because("the local socket's owner is unknown (%s)", strerror(errno));
  if (peer.uid == geteuid() || peer.uid == 0 || (command->server_uid != TABLE_NO_UID && peer.uid == command->server_uid))
    return NULL;
  return because("the local socket for port %u is held by uid %u, which is not trusted", (unsigned)command->port,
                 (unsigned)peer.uid);
}

/* The request with the three descriptors on its first bytes; 0, or an errno. */
static int send_request(int sock, const int fds[3]) {
  union {
    char buffer[CMSG_SPACE(sizeof(int) * 3)];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {request.data, request.size};
  struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer,
                           .msg_controllen = sizeof control.buffer};
  struct cmsghdr *header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int) * 3);
  memcpy(CMSG_DATA(header), fds, sizeof(int) * 3);
  ssize_t sent;
  do sent = sendmsg(sock, &message, MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) return errno;
  /* The descriptors went with the first byte; the rest follows on the blocking socket. */
  for (size_t offset = (size_t)sent; offset < request.size;) {
    ssize_t more = send(sock, request.data + offset, request.size - offset, MSG_NOSIGNAL);
    if (more < 0 && errno == EINTR) continue;
    if (more <= 0) return more < 0 ? errno : EPIPE;
    offset += (size_t)more;
  }
  return 0;
}

static int valid(const char *text) { return utf8_valid((const unsigned char *)text, strlen(text)); }

/* The request of direct.ts: NULL when built, else why the TypeScript client must run. */
static const char *build(const struct table_command *command, const char *name, const char *workdir, int argc,
                         char **argv, int terminal) {
  request_hello(&request);
  request_string(&request, FRAME_WORKING_DIRECTORY, workdir, strlen(workdir));
  for (int i = 1; i < argc; i++) {
    if (!valid(argv[i])) return "an argument is not valid UTF-8 (Node would change it)";
    request_string(&request, FRAME_COMMAND_ARGUMENT, argv[i], strlen(argv[i]));
  }
  int term_sent = 0;
  const unsigned char *names = command->names;
  for (uint32_t i = 0; i < command->variables; i++) {
    struct table_string spec = table_next_variable(command, &names);
    const char *value = lookup((const char *)spec.bytes, spec.size);
    if (!value) continue; /* unset: not sent */
    if (!valid(value)) return "a variable to send is not valid UTF-8 (Node would change it)";
    request_variable(&request, spec.bytes, spec.size, value);
    if (spec.size == strlen(TERM_VARIABLE) && memcmp(spec.bytes, TERM_VARIABLE, spec.size) == 0) term_sent = 1;
  }
  /* A passed terminal takes our TERM along (direct.ts withTerm). */
  const char *term = variable(TERM_VARIABLE);
  if (terminal && term && !term_sent) {
    if (!valid(term)) return TERM_VARIABLE " is not valid UTF-8 (Node would change it)";
    request_variable(&request, TERM_VARIABLE, strlen(TERM_VARIABLE), term);
  }
  request_string(&request, FRAME_START_COMMAND, name, strlen(name));
  return request.failed ? "out of memory for the request" : NULL;
}

/* The key (docs/native-stubs.md): the configuration path as the stub would load it. */
static const char *make_key(const char *cwd, char *key, size_t size) {
  const char *config = variable(SWITCH_CONFIG);
  if (config && !*config) return SWITCH_CONFIG " is set and empty";
  if (!config) config = "k8psh.conf";
  int length = config[0] == '/' ? snprintf(key, size, "%s", config) : snprintf(key, size, "%s/%s", cwd, config);
  return length < 0 || (size_t)length >= size ? "the configuration path is too long" : NULL;
}

/* Loads the table into the static one; NULL, or why not (cache set when it should be rewritten). */
static const char *load(const struct payload *payload, const char *key, char *cache, size_t size) {
  char dir[PATH_MAX];
  int found = 0;
  for (int i = 0; found == 0; i++) {
    found = cache_directory(i, dir, sizeof dir, 0);
    if (found < 0) return "no private cache directory";
  }
  int length = snprintf(cache, size, "%s/native-%s-%016llx", dir, payload->trailer.id,
                        (unsigned long long)fnv1a64(key, strlen(key)));
  if (length < 0 || (size_t)length >= size) {
    cache[0] = '\0';
    return "the table's path is too long";
  }
  const char *why;
  if (table_load(cache, payload->trailer.id, key, variable(SWITCH_CONFIG), lookup, &table, &why) != 0)
    return strcmp(why, "missing") == 0 ? because("no table at %s", cache)
                                        : because("the table at %s is not valid (%s)", cache, why);
  cache[0] = '\0';
  return NULL;
}

const char *stub_run(const struct payload *payload, const char *name, int argc, char **argv, char **envp,
                     char *cache, size_t size) {
  environment = envp;
  cache[0] = '\0';
  if (switch_native(variable(SWITCH_NATIVE)) == NATIVE_NEVER) return SWITCH_NATIVE "=0";
  if (switch_debug(variable(SWITCH_DEBUG))) return SWITCH_DEBUG " is set";
  if (switch_tty(variable(SWITCH_TTY)) == 1) return SWITCH_TTY " asks for a pseudo-terminal";
  if (!switch_direct_stdio(variable(SWITCH_DIRECT_STDIO))) return SWITCH_DIRECT_STDIO "=0";
  enum stdin_switch stdin_setting = switch_stdin(variable(SWITCH_STDIN));
  int null_stdin = stdin_setting == STDIN_NULL;
  if (stdin_setting == STDIN_INVALID) return SWITCH_STDIN " is set and not \"null\"";

  char cwd[PATH_MAX], key[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd) || cwd[0] != '/') return "getcwd() failed";
  const char *why = make_key(cwd, key, sizeof key);
  if (why) return why;
  if ((why = load(payload, key, cache, size))) return why;

  struct table_command command;
  if (!table_command(&table, name, strlen(name), &command)) return because("%s is not a command of the table", name);
  const char *workdir = workdir_relative(cwd, (const char *)table.base.bytes, table.base.size);
  if (!workdir) return "the current directory is outside the base directory";
  if (!valid(cwd)) return "the current directory is not valid UTF-8 (Node would change it)";

  int devnull = null_stdin ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
  if (null_stdin && devnull < 0) return "/dev/null cannot be opened";
  const int fds[3] = {null_stdin ? devnull : 0, 1, 2};
  /* Whatever the command does to a terminal it shares with us, we leave it as we found it. Among
     what we pass, /dev/null in place of stdin is no terminal. */
  int terminal = (modes_save() & (null_stdin ? 06 : 07)) != 0;
  why = build(&command, name, workdir, argc, argv, terminal);
  if (!why && session_prepare(terminal) != 0) why = because("no signalfd (%s)", strerror(errno));
  int sock = -1;
  if (!why && (sock = connect_local(command.port)) < 0)
    why = because("no local socket for port %u (%s)", (unsigned)command.port, strerror(-sock));
  /* Only a listener of a uid we trust gets the request; the TypeScript client refuses others in words. */
  if (!why) why = untrusted_listener(sock, &command);
  int error = !why ? send_request(sock, fds) : 0;
  if (error) why = because("sending the request with the descriptors failed (%s)", strerror(error));
  /* The server holds its own copy now. */
  if (devnull >= 0) close(devnull);
  if (!why) {
    session_run(sock); /* returns only when the server closed without a byte */
    why = "the server closed the connection without a byte";
    sock = -1;
  }
  if (sock >= 0) close(sock);
  session_unprepare();
  request_free(&request);
  table_free(&table);
  return why;
}
