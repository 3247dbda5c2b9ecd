/*
 * Readiness of a socket that Node must not read (the server's local connections, whose first bytes
 * carry descriptors: docs/protocol.md). Node offers no "readable" event without reading, so the
 * server used to poll recvmsg every millisecond; this is a one-shot libuv poll handle instead.
 *
 *   watch(fd, callback) -> a handle: callback(events) once, on the loop thread, when fd is readable
 *     or hung up (events: 1 readable, 2 hung up, or -errno of a poll error)
 *   unwatch(handle) -> true if the watch was still pending; false (and nothing done) otherwise
 *
 * The poll runs on a duplicate of fd (close-on-exec) that the watch owns: libuv keeps one watcher per
 * descriptor number, and Node's own handle on fd must stay the only one there once it reads. The
 * duplicate holds the socket open, so a watch must end (fire, or unwatch) before the socket is closed
 * for the peer to see it closed. After firing or unwatch, the duplicate is closed at once and the
 * handle's memory freed by uv_close's callback; the callback is never called again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "addon.h"

enum { WATCH_READABLE = 1, WATCH_HUNG_UP = 2 };

struct watch {
  uv_poll_t poll; /* first: the uv handle is the struct (container by cast) */
  napi_env env;
  napi_ref callback;
  napi_ref self; /* the JavaScript handle, held while libuv holds the memory */
  napi_async_context context;
  int fd; /* the duplicate, -1 once closed */
  bool pending;
};

/* libuv is done with the memory: release what pins it to JavaScript; the finalizer frees it. */
static void on_closed(uv_handle_t *handle) {
  struct watch *watch = (struct watch *)handle;
  napi_env env = watch->env;
  /* Called from libuv: no JavaScript on the stack, so no scope for what async_destroy may create. */
  napi_handle_scope scope;
  bool scoped = napi_open_handle_scope(env, &scope) == napi_ok;
  napi_delete_reference(env, watch->callback);
  napi_async_destroy(env, watch->context);
  napi_delete_reference(env, watch->self); /* last: the finalizer may free watch from here on */
  if (scoped) napi_close_handle_scope(env, scope);
}

/* Ends the watch on every path: no more events, the duplicate closed, the handle closing. */
static void stop(struct watch *watch) {
  watch->pending = false;
  uv_close((uv_handle_t *)&watch->poll, on_closed); /* stops the poll: out of epoll, no more events */
  close(watch->fd);
  watch->fd = -1;
}

static void on_event(uv_poll_t *poll, int status, int events) {
  struct watch *watch = (struct watch *)poll;
  if (!watch->pending) return;
  int result = status < 0 ? status : ((events & UV_READABLE) ? WATCH_READABLE : 0) |
                                         ((events & UV_DISCONNECT) ? WATCH_HUNG_UP : 0);
  stop(watch);
  napi_env env = watch->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, argument, ignored;
  napi_get_reference_value(env, watch->callback, &callback);
  napi_get_global(env, &receiver); /* make_callback wants an object: the global, as for a timer */
  napi_create_int32(env, result, &argument);
  /* make_callback, not call_function: process.nextTick and promise jobs run after it, as after any
     I/O callback of Node's. A throw is an uncaught exception of the process, as for Node's. */
  if (callback && napi_make_callback(env, watch->context, receiver, callback, 1, &argument, &ignored) ==
                      napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

/* What tells our handles from any other external (napi_type_tag_object). */
static const napi_type_tag WATCH_TAG = {0x6b387073685f7761ULL, 0x7463685f68616e64ULL};

/* A handle that never reached JavaScript: only libuv had it. */
static void free_unwatched(uv_handle_t *handle) { free(handle); }

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

napi_value watch_fd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  napi_valuetype type;
  /* Not a descriptor and a function: a misuse. */
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function)
    return fail(env, "watch(fd, callback)");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return negative_errno(env, ENOSYS);
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) return negative_errno(env, errno);
  struct watch *watch = calloc(1, sizeof *watch);
  if (!watch) {
    close(copy);
    return negative_errno(env, ENOMEM);
  }
  watch->env = env;
  watch->fd = copy;
  /* Not a socket or pipe libuv can poll (a regular file: EPERM): refused before anything is held. */
  int error = uv_poll_init(loop, &watch->poll, copy);
  if (error < 0) {
    close(copy);
    free(watch);
    return negative_errno(env, -error);
  }
  napi_value handle, name;
  /* From here the memory is libuv's until on_closed, then the external's until its finalizer. */
  if (napi_create_external(env, watch, finalize, NULL, &handle) != napi_ok) {
    uv_close((uv_handle_t *)&watch->poll, free_unwatched);
    close(copy);
    return NULL;
  }
  napi_type_tag_object(env, handle, &WATCH_TAG);
  napi_create_string_utf8(env, "k8psh:watch", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, handle, 1, &watch->self);
  napi_create_reference(env, argv[1], 1, &watch->callback);
  napi_async_init(env, NULL, name, &watch->context);
  error = uv_poll_start(&watch->poll, UV_READABLE | UV_DISCONNECT, on_event);
  if (error < 0) {
    stop(watch);
    return negative_errno(env, -error);
  }
  watch->pending = true;
  return handle;
}

napi_value unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data;
  bool ours = false;
  /* Not a handle from watch(): a misuse. */
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_check_object_type_tag(env, argv[0], &WATCH_TAG, &ours) != napi_ok || !ours ||
      napi_get_value_external(env, argv[0], &data) != napi_ok)
    return fail(env, "unwatch(handle)");
  struct watch *watch = data;
  bool was_pending = watch->pending;
  if (was_pending) stop(watch);
  napi_value result;
  napi_get_boolean(env, was_pending, &result);
  return result;
}
