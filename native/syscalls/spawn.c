/*
 * Starting and reaping a command, on passed descriptors or a relayed one's socketpairs (the server
 * side of docs/protocol.md).
 *
 *   spawn(file, argv: string[], env: string[], dirfd, fds: number[3]) -> pid, or -errno
 *   reap(pid) -> null (running), status (0-255 exit code, 256 + N killed by signal N), or -errno
 *   pidfd(pid) -> a close-on-exec descriptor that turns readable when pid exits (pidfd_open), or -errno
 *
 * spawn is deliberately not posix_spawn: it calls clone(CLONE_VM | CLONE_VFORK) itself, as glibc's
 * posix_spawn does inside, so that its cost does not grow with the server's memory, where libuv's
 * fork() copies the page tables of a 60 MB Node process (about 8 ms per command here, against under
 * 1 ms). posix_spawn itself would leave glibc's two internal signals (32, 33) ignored in the command.
 * The child gets a new session (its own process group, as libuv's `detached`), every signal at its
 * default (Node ignores SIGPIPE), an empty signal mask, the working directory (fchdir to dirfd,
 * opened beneath the base by beneath.c: never a path resolved again), the three descriptors as 0,
 * 1, 2, and SIGKILL should the server die first. Node's libuv does not reap it: the caller watches
 * its pidfd (watch.c) and calls reap() when it turns readable, or (a kernel before 5.3: ENOSYS)
 * calls reap() on SIGCHLD.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addon.h"

/* The child's own stack: it runs in the parent's memory, so it must not use the parent's. */
#define CHILD_STACK_SIZE (256 * 1024)

/* What the parent hands the child; `error` is how the child reports a failure before execve. */
struct spawn_request {
  const char *file;
  char **arguments, **environment;
  int dirfd, fds[3];
  pid_t parent; /* the server, as getpid() saw it before clone: the child's check that it is alive */
  volatile int error;
};

/*
 * The child, on its own stack but in the parent's memory (CLONE_VM | CLONE_VFORK): only system
 * calls until execve, and the parent sleeps until then. Signals are all blocked on entry (by the
 * parent), so no handler of Node's runs here while the dispositions are reset.
 */
static int spawn_child(void *argument) {
  struct spawn_request *request = argument;
  /* The command dies with the server (issue 21): killed by SIGKILL, the server can no longer end it,
     and a command on passed descriptors would go on writing into the caller's files after the stub
     gave up (exit 255). The kernel sends this when the thread that cloned us exits: spawn runs on
     Node's main thread, which lasts as long as the process. A server killed before the prctl left
     us to a reaper already: then nothing may run. execve of a set-uid, set-gid or file-capability
     program clears it; the command's own children never have it (docs/protocol.md). */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) goto failed;
  if (getppid() != request->parent) _exit(127);
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = SIG_DFL;
  /* Handlers would be reset by execve anyway, but an ignored signal (Node ignores SIGPIPE) is not;
     sigaction fails for SIGKILL, SIGSTOP and glibc's internal signals, which is harmless. */
  for (int signal = 1; signal < NSIG; signal++) sigaction(signal, &action, NULL);
  /* A new session, then the working directory: either failing is reported as errno. */
  if (setsid() < 0 || fchdir(request->dirfd) < 0) goto failed;
  /* The descriptors are above 2 (checked by the parent), so no dup2 overwrites one still to move;
     the originals are close-on-exec or closed by the caller after spawn. */
  for (int i = 0; i < 3; i++)
    if (dup2(request->fds[i], i) < 0) goto failed;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(request->file, request->arguments, request->environment);
  /* execve returned: it failed (ENOENT, EACCES, ENOEXEC, ...). */
failed:
  /* The parent reads this once the child has exited (CLONE_VFORK); 127 as a shell's "not run". */
  request->error = errno;
  _exit(127);
}

/*
 * The child's stack, made once per calling thread and kept: CLONE_VFORK returns only once the child
 * has exec'd or exited, so the next spawn of this thread finds it free. Unmapping it after every
 * spawn cost a TLB shoot-down on the CPUs of Node's other threads, on every command.
 */
static __thread char *child_stack;

/* Starts the request's child; the pid, or -errno with no child left behind. */
static int start_child(struct spawn_request *request) {
  if (!child_stack) {
    char *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    /* No memory for the child's stack: nothing was started (the next call tries again). */
    if (stack == MAP_FAILED) return -errno;
    child_stack = stack;
  }
  char *stack = child_stack;
  request->parent = getpid();
  sigset_t all, previous;
  sigfillset(&all);
  /* sigprocmask: the calling thread's mask on Linux, as pthread_sigmask, which needs glibc 2.32. */
  sigprocmask(SIG_SETMASK, &all, &previous);
  /* The stack grows down on every architecture we build for: the child starts at its top. */
  pid_t pid = clone(spawn_child, stack + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, request);
  /* CLONE_VFORK: we run again only once the child has exec'd or exited, so request->error is final. */
  int error = pid < 0 ? errno : request->error;
  sigprocmask(SIG_SETMASK, &previous, NULL);
  /* execve failed: the child is gone already; reap it here, nobody else knows it. */
  if (pid > 0 && error) waitpid(pid, NULL, 0);
  /* clone itself failed (EAGAIN, ENOMEM, ...) or the child did: -errno; else the running child. */
  return error ? -error : pid;
}

/* Reads the three descriptors of spawn's last argument; false when a TypeError was thrown. */
static bool read_fds(napi_env env, napi_value array, int fds[3]) {
  uint32_t count;
  /* Not an array, or not three descriptors. */
  if (napi_get_array_length(env, array, &count) != napi_ok || count != 3) {
    fail(env, "fds must be an array of 3 descriptors");
    return false;
  }
  for (uint32_t i = 0; i < 3; i++) {
    napi_value item;
    napi_get_element(env, array, i, &item);
    /* Above 2: dup2 onto 0-2 then never overwrites a descriptor still to be moved. */
    if (napi_get_value_int32(env, item, &fds[i]) != napi_ok || fds[i] < 3) {
      fail(env, "fds must be descriptors above 2");
      return false;
    }
  }
  return true;
}

napi_value spawn_on(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  /* Not five arguments: a misuse. */
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5)
    return fail(env, "spawn(file, argv, env, dirfd, fds)");
  struct spawn_request request = {.error = 0};
  /* Bad descriptors: read_fds has thrown. */
  if (!read_fds(env, argv[4], request.fds)) return NULL;
  /* The server's own descriptors are above 2 (0-2 are its stdio): anything else is a mix-up. */
  if (napi_get_value_int32(env, argv[3], &request.dirfd) != napi_ok || request.dirfd < 3)
    return fail(env, "dirfd must be a descriptor above 2");
  char *file = addon_string(env, argv[0]);
  char **arguments = addon_strings(env, argv[1]);
  char **environment = addon_strings(env, argv[2]);
  napi_value result = NULL;
  if (!file || !arguments || !environment || !arguments[0]) {
    /* A non-string anywhere, or an empty argv (execve needs argv[0]): a misuse. */
    result = fail(env, "file must be a string, argv and env arrays of strings, argv not empty");
  } else {
    /* Everything converted: start it; the pid or -errno goes back as one number. */
    request.file = file;
    request.arguments = arguments;
    request.environment = environment;
    napi_create_int32(env, start_child(&request), &result);
  }
  /* The child has exec'd or exited by now (CLONE_VFORK): nothing of ours is still in use. */
  free(file);
  addon_free_strings(arguments);
  addon_free_strings(environment);
  return result;
}

napi_value reap(napi_env env, napi_callback_info info) {
  int32_t pid;
  /* Not one positive pid: a misuse (0 or -1 would reap any child, which is Node's business). */
  if (!int32_argument(env, info, &pid) || pid <= 0)
    return fail(env, "reap(pid)");
  int status;
  pid_t done;
  do done = waitpid(pid, &status, WNOHANG);
  while (done < 0 && errno == EINTR);
  napi_value result;
  /* Still running. */
  if (done == 0) {
    napi_get_null(env, &result);
    return result;
  }
  /* ECHILD: not our child, or reaped already. */
  if (done < 0) return negative_errno(env, errno);
  /* Stopped or continued: not the end. */
  if (!WIFEXITED(status) && !WIFSIGNALED(status)) {
    napi_get_null(env, &result);
    return result;
  }
  /* Exited: its code; killed: 256 + the signal. */
  napi_create_int32(env, WIFEXITED(status) ? WEXITSTATUS(status) : 256 + WTERMSIG(status), &result);
  return result;
}

napi_value pidfd(napi_env env, napi_callback_info info) {
  int32_t pid;
  /* Not one positive pid: a misuse. */
  if (!int32_argument(env, info, &pid) || pid <= 0) return fail(env, "pidfd(pid)");
#ifdef SYS_pidfd_open
  /* Close-on-exec by the kernel; it works on a zombie too, so a child that has exited already is
     seen at once. No glibc wrapper before 2.36: the system call itself. */
  long fd = syscall(SYS_pidfd_open, pid, 0);
  napi_value result;
  if (fd < 0) return negative_errno(env, errno);
  napi_create_int32(env, (int32_t)fd, &result);
  return result;
#else
  return negative_errno(env, ENOSYS);
#endif
}
