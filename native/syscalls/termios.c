/*
 * A terminal's modes, saved and restored by a client that passes its terminals to a remote command
 * (docs/terminals.md): the remote command may change them (vi, stty raw) and die before it puts
 * them back; the client restores what it found on every way out, as a local shell's job control
 * would leave them to the next command.
 *
 *   getmodes(fd) -> Buffer (the struct termios), or -errno (ENOTTY: not a terminal)
 *   setmodes(fd, modes: Buffer) -> 0, or -errno
 *   rawoutput(fd) -> 0, or -errno: output processing off (OPOST), for the client's pseudo-terminal
 *     mode, where the remote pty already turns \n into \r\n (as ssh does). Not `stty -opost`: a
 *     stub called stty may come first on PATH.
 *
 * setmodes blocks SIGTTOU around tcsetattr: a client running in the background of its shell
 * (`make &`) would otherwise be stopped by the terminal for restoring modes it did not change
 * itself; with the signal blocked the kernel lets the call through (POSIX, tcsetattr).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <termios.h>

#include "addon.h"

napi_value get_modes(napi_env env, napi_callback_info info) {
  int32_t fd;
  /* Not one number: a misuse. */
  if (!int32_argument(env, info, &fd)) return fail(env, "getmodes(fd)");
  struct termios modes;
  if (tcgetattr(fd, &modes) != 0) return negative_errno(env, errno);
  napi_value buffer;
  napi_create_buffer_copy(env, sizeof modes, &modes, NULL, &buffer);
  return buffer;
}

napi_value set_modes(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  void *data;
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok || length != sizeof(struct termios))
    return fail(env, "setmodes(fd, modes)");
  struct termios modes;
  memcpy(&modes, data, sizeof modes);
  sigset_t ttou, previous;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  /* sigprocmask, not pthread_sigmask (GLIBC_2.32, newer than node's 2.28): on Linux both set the
   * calling thread's mask. */
  sigprocmask(SIG_BLOCK, &ttou, &previous);
  /* TCSADRAIN: what the remote command wrote is shown under the modes it was written with. */
  int result = tcsetattr(fd, TCSADRAIN, &modes) == 0 ? 0 : errno;
  sigprocmask(SIG_SETMASK, &previous, NULL);
  return negative_errno(env, result);
}

napi_value raw_output(napi_env env, napi_callback_info info) {
  int32_t fd;
  /* Not one number: a misuse. */
  if (!int32_argument(env, info, &fd)) return fail(env, "rawoutput(fd)");
  struct termios modes;
  if (tcgetattr(fd, &modes) != 0) return negative_errno(env, errno);
  modes.c_oflag &= ~OPOST;
  return negative_errno(env, tcsetattr(fd, TCSANOW, &modes) == 0 ? 0 : errno);
}
