/*
 * Passed descriptors (docs/protocol.md): the k8psh client hands its stdin/stdout/stderr to the
 * server with the first bytes of a session (SCM_RIGHTS over a local socket, which Node only offers on
 * its own child-process IPC channel), and the server starts the command on them.
 *
 *   connect(path) -> a connected, blocking AF_UNIX stream socket (close-on-exec), or -errno
 *   isatty(fd) -> boolean
 *   send(socketFd, data: Buffer, fds: number[]) -> bytes sent, or -errno
 *   receive(socketFd, buffer: Buffer) -> [bytes, fds], null (nothing to read yet), or -errno
 *   spawn(file, argv: string[], env: string[], cwd, fds: number[3]) -> pid, or -errno
 *   reap(pid) -> null (running), status (0-255 exit code, 256 + N killed by signal N), or -errno
 *   setname(name) -> undefined: the calling thread's name (the `comm` of ps for the main thread)
 *
 * connect and isatty let a client pass its stdio without loading Node's net, stream and tty modules
 * (about 6 ms of every stub call here); it reads the socket with fs.read. The path is a JavaScript
 * string; an abstract name (starting with NUL) is connected as Node 24's net binds it (exact
 * length), then as Node 20's did (padded with NULs to the full sun_path). send/receive are non-blocking single system calls on a socket
 * (possibly one that belongs to Node); received descriptors are close-on-exec.
 *
 * spawn starts the child as glibc's posix_spawn does (clone with CLONE_VM | CLONE_VFORK), so its
 * cost does not grow with the server's memory, where libuv's fork() copies the page tables of a
 * 60 MB Node process (about 8 ms per command here, against under 1 ms). The child gets a new
 * session (its own process group, as libuv's `detached`), every signal at its default (Node ignores
 * SIGPIPE), an empty signal mask, the working directory and the three descriptors as 0, 1, 2.
 * Node's libuv does not reap it: the caller calls reap() on SIGCHLD.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <node_api.h>
#include <signal.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stddef.h>
#include <unistd.h>

#define MAX_FDS 8

/* Errors come back as -errno (the JavaScript side names them): no exceptions across the boundary. */
static napi_value negative_errno(napi_env env, int error) {
  napi_value result;
  napi_create_int32(env, -error, &result);
  return result;
}

static napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

/* A new close-on-exec stream socket connected to address (size bytes of it), or -errno. */
static int connect_to(const struct sockaddr_un *address, socklen_t size) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int result;
  do result = connect(fd, (const struct sockaddr *)address, size);
  while (result < 0 && errno == EINTR);
  if (result < 0) {
    int error = errno;
    close(fd);
    return -error;
  }
  return fd;
}

static napi_value connect_local(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  struct sockaddr_un address;
  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_string_utf8(env, argv[0], NULL, 0, &length) != napi_ok || length == 0 ||
      length >= sizeof address.sun_path)
    return fail(env, "connect(path): a path shorter than 108 bytes");
  char path[sizeof address.sun_path + 1];
  napi_get_value_string_utf8(env, argv[0], path, sizeof path, &length);
  memcpy(address.sun_path, path, length);
  /*
   * A file path ends at its NUL. An abstract name is exactly its bytes for the libuv of Node 24
   * (what our server binds); the libuv of Node 20 padded it with NULs to the whole sun_path, so
   * that form is tried when the exact one is refused (a server run by Node 20 from the sources).
   */
  bool abstract = path[0] == '\0';
  socklen_t size = offsetof(struct sockaddr_un, sun_path) + length + (abstract ? 0 : 1);
  int fd = connect_to(&address, size);
  if (abstract && fd == -ECONNREFUSED) fd = connect_to(&address, sizeof address);
  if (fd < 0) return negative_errno(env, -fd);
  napi_value value;
  napi_create_int32(env, fd, &value);
  return value;
}

/*
 * Node 24 names its main thread "MainThread", which is what ps and top then show for every k8psh
 * process; the invoked name (k8pshd, gcc) is what a user looks for, as with the original.
 */
static napi_value set_name(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char name[16]; /* TASK_COMM_LEN: longer names are cut, as the kernel does for exec */
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_string_utf8(env, argv[0], name, sizeof name, &length) != napi_ok)
    return fail(env, "setname(name)");
  prctl(PR_SET_NAME, name, 0, 0, 0);
  return NULL;
}

static napi_value is_terminal(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok)
    return fail(env, "isatty(fd)");
  napi_value value;
  napi_get_boolean(env, isatty(fd) == 1, &value);
  return value;
}

/* The (socketFd, buffer, ...) arguments of send and receive; false when a TypeError was thrown. */
static bool socket_and_buffer(napi_env env, napi_callback_info info, size_t expected, napi_value *argv,
                              const char *usage, int32_t *sock, void **data, size_t *length) {
  size_t argc = expected;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != expected) {
    fail(env, usage);
    return false;
  }
  if (napi_get_value_int32(env, argv[0], sock) != napi_ok) {
    fail(env, "socketFd must be a number");
    return false;
  }
  if (napi_get_buffer_info(env, argv[1], data, length) != napi_ok || *length == 0) {
    fail(env, "data/buffer must be a non-empty Buffer");
    return false;
  }
  return true;
}

static napi_value send_fds(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t sock;
  void *data;
  size_t length;
  if (!socket_and_buffer(env, info, 3, argv, "send(socketFd, data, fds)", &sock, &data, &length)) return NULL;
  uint32_t count;
  if (napi_get_array_length(env, argv[2], &count) != napi_ok || count > MAX_FDS)
    return fail(env, "fds must be an array of at most 8 descriptors");

  int fds[MAX_FDS];
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    napi_get_element(env, argv[2], i, &item);
    if (napi_get_value_int32(env, item, &fds[i]) != napi_ok) return fail(env, "fds must be numbers");
  }
  union {
    char buffer[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = data, .iov_len = length};
  struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1};
  if (count > 0) {
    message.msg_control = control.buffer;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * count);
    memcpy(CMSG_DATA(header), fds, sizeof(int) * count);
  }
  ssize_t sent;
  do sent = sendmsg(sock, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) return negative_errno(env, errno);
  napi_value result;
  napi_create_int64(env, sent, &result);
  return result;
}

static napi_value receive_fds(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t sock;
  void *data;
  size_t length;
  if (!socket_and_buffer(env, info, 2, argv, "receive(socketFd, buffer)", &sock, &data, &length)) return NULL;

  union {
    char buffer[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = data, .iov_len = length};
  struct msghdr message = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof control.buffer};
  ssize_t received;
  do received = recvmsg(sock, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (received < 0 && errno == EINTR);
  if (received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    napi_value none;
    napi_get_null(env, &none);
    return none;
  }
  if (received < 0) return negative_errno(env, errno);

  napi_value fds;
  napi_create_array(env, &fds);
  uint32_t count = 0;
  for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int *received_fds = (int *)CMSG_DATA(header);
    for (size_t i = 0; i < n; i++) {
      napi_value fd;
      napi_create_int32(env, received_fds[i], &fd);
      napi_set_element(env, fds, count++, fd);
    }
  }
  /* Descriptors cut off for lack of room were closed by the kernel: the caller must not trust the rest. */
  if (message.msg_flags & MSG_CTRUNC) {
    for (uint32_t i = 0; i < count; i++) {
      napi_value item;
      int32_t fd;
      napi_get_element(env, fds, i, &item);
      napi_get_value_int32(env, item, &fd);
      close(fd);
    }
    return negative_errno(env, EMSGSIZE);
  }
  napi_value result, bytes;
  napi_create_array_with_length(env, 2, &result);
  napi_create_int64(env, received, &bytes);
  napi_set_element(env, result, 0, bytes);
  napi_set_element(env, result, 1, fds);
  return result;
}

/* A JavaScript string as a malloc'ed C string; NULL when it is not a string (or out of memory). */
static char *c_string(napi_env env, napi_value value) {
  size_t length;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) return NULL;
  char *text = malloc(length + 1);
  if (text && napi_get_value_string_utf8(env, value, text, length + 1, &length) != napi_ok) {
    free(text);
    return NULL;
  }
  return text;
}

static void free_strings(char **strings) {
  if (!strings) return;
  for (char **s = strings; *s; s++) free(*s);
  free(strings);
}

/* A JavaScript array of strings as a NULL-terminated array; NULL on a non-string. */
static char **c_strings(napi_env env, napi_value array) {
  uint32_t count;
  if (napi_get_array_length(env, array, &count) != napi_ok) return NULL;
  char **strings = calloc(count + 1, sizeof *strings);
  if (!strings) return NULL;
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    if (napi_get_element(env, array, i, &item) != napi_ok || !(strings[i] = c_string(env, item))) {
      free_strings(strings);
      return NULL;
    }
  }
  return strings;
}

struct spawn_request {
  const char *file, *cwd;
  char **arguments, **environment;
  int fds[3];
  volatile int error;
};

/*
 * The child, on its own stack but in the parent's memory (CLONE_VM | CLONE_VFORK, as glibc's
 * posix_spawn): only system calls until execve. Signals are all blocked on entry (by the parent).
 * Not posix_spawn itself: it leaves glibc's two internal signals (32, 33) ignored in the command.
 */
static int spawn_child(void *argument) {
  struct spawn_request *request = argument;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = SIG_DFL;
  /* Handlers would be reset by execve anyway, but an ignored signal (Node ignores SIGPIPE) is not. */
  for (int signal = 1; signal < NSIG; signal++) sigaction(signal, &action, NULL);
  if (setsid() < 0 || chdir(request->cwd) < 0) goto failed;
  for (int i = 0; i < 3; i++)
    if (dup2(request->fds[i], i) < 0) goto failed;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(request->file, request->arguments, request->environment);
failed:
  request->error = errno;
  _exit(127);
}

static napi_value spawn_on(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5)
    return fail(env, "spawn(file, argv, env, cwd, fds)");
  struct spawn_request request = {.error = 0};
  uint32_t count;
  if (napi_get_array_length(env, argv[4], &count) != napi_ok || count != 3)
    return fail(env, "fds must be an array of 3 descriptors");
  for (uint32_t i = 0; i < 3; i++) {
    napi_value item;
    napi_get_element(env, argv[4], i, &item);
    /* Above 2: dup2 onto 0-2 then never overwrites a descriptor still to be moved. */
    if (napi_get_value_int32(env, item, &request.fds[i]) != napi_ok || request.fds[i] < 3)
      return fail(env, "fds must be descriptors above 2");
  }
  char *file = c_string(env, argv[0]);
  char *cwd = c_string(env, argv[3]);
  char **arguments = c_strings(env, argv[1]);
  char **environment = c_strings(env, argv[2]);
  napi_value result = NULL;
  if (!file || !cwd || !arguments || !environment || !arguments[0]) {
    result = fail(env, "file and cwd must be strings, argv and env arrays of strings, argv not empty");
  } else {
    request.file = file;
    request.cwd = cwd;
    request.arguments = arguments;
    request.environment = environment;
    int error = 0;
    pid_t pid = -1;
    const size_t stack_size = 256 * 1024;
    char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
      error = errno;
    } else {
      sigset_t all, previous;
      sigfillset(&all);
      /* sigprocmask: the calling thread's mask on Linux, as pthread_sigmask, which needs glibc 2.32. */
      sigprocmask(SIG_SETMASK, &all, &previous);
      pid = clone(spawn_child, stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &request);
      error = pid < 0 ? errno : request.error;
      sigprocmask(SIG_SETMASK, &previous, NULL);
      munmap(stack, stack_size);
      /* execve failed: the child is gone already; reap it here, nobody else knows it. */
      if (pid > 0 && error) waitpid(pid, NULL, 0);
    }
    napi_create_int32(env, error ? -error : pid, &result);
  }
  free(file);
  free(cwd);
  free_strings(arguments);
  free_strings(environment);
  return result;
}

static napi_value reap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t pid;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_int32(env, argv[0], &pid) != napi_ok || pid <= 0)
    return fail(env, "reap(pid)");
  int status;
  pid_t done;
  do done = waitpid(pid, &status, WNOHANG);
  while (done < 0 && errno == EINTR);
  napi_value result;
  if (done == 0) {
    napi_get_null(env, &result);
    return result;
  }
  if (done < 0) return negative_errno(env, errno);
  if (!WIFEXITED(status) && !WIFSIGNALED(status)) {
    napi_get_null(env, &result); /* stopped or continued: not the end */
    return result;
  }
  napi_create_int32(env, WIFEXITED(status) ? WEXITSTATUS(status) : 256 + WTERMSIG(status), &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
      {"connect", NULL, connect_local, NULL, NULL, NULL, napi_enumerable, NULL},
      {"isatty", NULL, is_terminal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, send_fds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"receive", NULL, receive_fds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spawn", NULL, spawn_on, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reap", NULL, reap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setname", NULL, set_name, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof *properties, properties);
  return exports;
}
