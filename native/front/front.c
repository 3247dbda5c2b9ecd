/*
 * k8psh's front executable (docs/build.md): the first thing that runs, whatever the name (k8psh,
 * k8pshd, a stub such as gcc). Static, so it runs in any image: no libc, musl, any glibc.
 *
 * 1. Finds itself (/proc/self/exe: a stub is a symlink to it) and reads its payload trailer.
 * 2. `k8psh --install FILE`: installs (install.h) without starting Node, and exits.
 * 3. Otherwise starts the runtime: the directory .k8psh-runtime-<id> beside the real executable
 *    (an installed copy, or dist/), else one unpacked from the payload into a private cache
 *    (runtime.h), else, with nowhere to write, one copied into memory files (memory.h). Node runs through the bundled glibc loader, with the caller's Node variables
 *    stashed (stash.h) and K8PSH_SELF telling the TypeScript side our real path. The invoked name
 *    (argv[0]) goes through unchanged: it chooses the face (docs/session.md, "Faces"), in TypeScript.
 * Between 2 and 3, a stub (any name but k8psh, k8pshd) may run natively, without Node (stub.h,
 * docs/native-stubs.md); it comes back here only to hand over to the TypeScript client, which gets
 * K8PSH_STUB_CACHE when the compiled table is to be (re)written.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "install.h"
#include "memory.h"
#include "payload.h"
#include "runtime.h"
#include "stash.h"
#include "stub.h"
#include "switches.h"

/* One line on stderr, then exit: no stack trace, an exit status a shell would give. */
__attribute__((noreturn, format(printf, 2, 3))) static void fail(int status, const char *format, ...) {
  va_list arguments;
  va_start(arguments, format);
  fputs("k8psh: ", stderr);
  vfprintf(stderr, format, arguments);
  fputc('\n', stderr);
  va_end(arguments);
  exit(status);
}

/* As Node does first thing: a closed fd 0-2 becomes /dev/null, never a file we open (or pass) later. */
static void open_standard_descriptors(void) {
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) != fd) exit(127);
}

int main(int argc, char **argv, char **envp) {
  open_standard_descriptors();
  char self[PATH_MAX];
  ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  if (length < 0) fail(127, "cannot find its own executable (/proc/self/exe): %s", strerror(errno));
  self[length] = '\0';
  /* The running file itself, even if its path was replaced since (a rebuild, a reinstall). */
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  struct payload payload;
  if (fd < 0 || payload_open(fd, &payload) != 0)
    fail(127, "%s: %s", self,
         errno == ENOEXEC ? "no runtime table at its end (damaged, or not k8psh)" : strerror(errno));

  const char *argv0 = argc > 0 && argv[0][0] != '\0' ? argv[0] : "k8psh";
  const char *name = strrchr(argv0, '/') ? strrchr(argv0, '/') + 1 : argv0;
  const char *target = install_target(name, argc, argv);
  if (target) {
    if (install(self, &payload, target) != 0)
      fail(1, "cannot install to %s: %s", target, strerror(errno));
    free(payload.entries);
    return 0;
  }

  char stub_cache[PATH_MAX] = "";
  if (stub_name(name)) {
    const char *why = stub_run(&payload, name, argc, argv, envp, stub_cache, sizeof stub_cache);
    /* K8PSH_NATIVE=1: never hand over, say why (docs/native-stubs.md). */
    if (switch_native(getenv(SWITCH_NATIVE)) == NATIVE_ONLY) fail(125, "not native: %s", why);
  }
  char **env = stash_environment(envp, self, *stub_cache ? stub_cache : NULL);
  if (!env) fail(127, "out of memory");
  char dir[PATH_MAX], runtime[PATH_MAX] = "";
  snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(self, '/') - self), self);
  if (runtime_path(*dir ? dir : "/", &payload, runtime, sizeof runtime) == 0 && runtime_ready(runtime)) {
    runtime_exec(runtime, argv0, argc, argv, env);
    fail(126, "cannot start %s/" RUNTIME_LOADER ": %s", runtime, strerror(errno));
  }
  if (payload.trailer.count == 0)
    fail(127, "its runtime %s is missing: install again with k8psh --install", runtime);
  /* The one file alone: unpack into the first cache directory that works, and run from there. */
  int error = 0;
  for (int i = 0;; i++) {
    errno = 0;
    int found = runtime_cached(i, &payload, runtime, sizeof runtime);
    if (found < 0) break;
    if (found == 0) {
      if (errno != 0) error = errno;
      continue;
    }
    runtime_exec(runtime, argv0, argc, argv, env);
    error = errno;
  }
  /* Nowhere to write: run from memory (memory.h). */
  runtime_exec_memory(&payload, argv0, argc, argv, env);
  fail(127, "no runtime beside %s, none could be unpacked (%s), none run from memory (%s)", self,
       strerror(error ? error : ENOENT), strerror(errno));
}
