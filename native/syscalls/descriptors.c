/* Single descriptors: whether one is a terminal, and a duplicate of our own. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "addon.h"

napi_value is_terminal(napi_env env, napi_callback_info info) {
  int32_t fd;
  /* Not one number: a misuse. */
  if (!int32_argument(env, info, &fd)) return fail(env, "isatty(fd)");
  napi_value value;
  napi_get_boolean(env, isatty(fd) == 1, &value);
  return value;
}

/*
 * A close-on-exec duplicate of fd, above 2: a descriptor of our own on a file someone else's code
 * may close (node-pty closes its pty master when the terminal ends, while writes of ours may still
 * be queued: the number, reused, would then be another session's socket).
 */
napi_value duplicate(napi_env env, napi_callback_info info) {
  int32_t fd;
  /* Not one number: a misuse. */
  if (!int32_argument(env, info, &fd)) return fail(env, "dup(fd)");
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  /* EBADF, EMFILE: -errno. */
  if (copy < 0) return negative_errno(env, errno);
  napi_value value;
  napi_create_int32(env, copy, &value);
  return value;
}
