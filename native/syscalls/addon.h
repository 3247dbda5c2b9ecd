/* What the files of the addon share (module.c lists them and their calls). */
#ifndef K8PSH_SYSCALLS_ADDON_H
#define K8PSH_SYSCALLS_ADDON_H

#include <node_api.h>

/* Errors come back as -errno (the JavaScript side names them): no exceptions across the boundary. */
static inline napi_value negative_errno(napi_env env, int error) {
  napi_value result;
  napi_create_int32(env, -error, &result);
  return result;
}

/* A misuse from JavaScript (wrong arguments): a TypeError, and NULL for the caller to return. */
static inline napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

/* The only argument of f(n), a 32-bit integer: 1, or 0 when the call is a misuse (then `fail`). */
static inline int int32_argument(napi_env env, napi_callback_info info, int32_t *value) {
  size_t argc = 1;
  napi_value argv[1];
  return napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 1 &&
         napi_get_value_int32(env, argv[0], value) == napi_ok;
}

/* passing.c: connect(path), send(socketFd, data, fds), receive(socketFd, buffer). */
napi_value connect_local(napi_env env, napi_callback_info info);
napi_value send_fds(napi_env env, napi_callback_info info);
napi_value receive_fds(napi_env env, napi_callback_info info);

/* sockets.c: socketpair(), hungup(fd), peeruid(fd). */
napi_value socket_pair(napi_env env, napi_callback_info info);
napi_value hung_up(napi_env env, napi_callback_info info);
napi_value peer_uid(napi_env env, napi_callback_info info);

/* descriptors.c: isatty(fd), dup(fd). */
napi_value is_terminal(napi_env env, napi_callback_info info);
napi_value duplicate(napi_env env, napi_callback_info info);

/* process.c: setname(name), subreaper(). */
napi_value set_name(napi_env env, napi_callback_info info);
napi_value subreaper(napi_env env, napi_callback_info info);

/* strings.c: a JavaScript string (array of strings) as malloc'ed C; NULL on a non-string. */
char *addon_string(napi_env env, napi_value value);
char **addon_strings(napi_env env, napi_value array);
void addon_free_strings(char **strings);

/* spawn.c: spawn(file, argv, env, dirfd, fds), reap(pid) and pidfd(pid). */
napi_value spawn_on(napi_env env, napi_callback_info info);
napi_value reap(napi_env env, napi_callback_info info);
napi_value pidfd(napi_env env, napi_callback_info info);

/* beneath.c: openbeneath(base, relative), a command's working directory as a descriptor. */
napi_value open_beneath(napi_env env, napi_callback_info info);

/* watch.c: watch(fd, callback) and unwatch(handle), readiness without reading. */
napi_value watch_fd(napi_env env, napi_callback_info info);
napi_value unwatch(napi_env env, napi_callback_info info);
/* termios.c: getmodes(fd), setmodes(fd, modes) and rawoutput(fd). */
napi_value get_modes(napi_env env, napi_callback_info info);
napi_value set_modes(napi_env env, napi_callback_info info);
napi_value raw_output(napi_env env, napi_callback_info info);
/* trim.c: trim(), the C allocator's free memory given back to the system. */
napi_value trim_memory(napi_env env, napi_callback_info info);

#endif
