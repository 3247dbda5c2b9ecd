/* The server process itself: its thread's name, and orphans made its children (src/server/orphans.ts). */
#include <errno.h>
#include <sys/prctl.h>

#include "addon.h"

/*
 * Node 24 names its main thread "MainThread", which is what ps and top then show for every k8psh
 * process; the invoked name (k8pshd, gcc) is what a user looks for, as with the original.
 */
napi_value set_name(napi_env env, napi_callback_info info) {
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

/* PR_SET_CHILD_SUBREAPER: orphans of our commands' descendants become our children, as under a
   PID 1, so the server can reap them. It is not inherited by the children we start. */
napi_value subreaper(napi_env env, napi_callback_info info) {
  (void)info;
  return negative_errno(env, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 ? errno : 0);
}
