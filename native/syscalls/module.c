/*
 * The addon: the system calls k8psh needs and Node does not offer (docs/protocol.md,
 * docs/security.md). Every call answers -errno rather than throwing (addon.h); src/native/syscalls.ts
 * turns those into errors with their code.
 *
 *   connect(path), send(socketFd, data, fds), receive(socketFd, buffer): passing.c
 *   socketpair(), hungup(fd), peeruid(fd): sockets.c
 *   isatty(fd), dup(fd): descriptors.c
 *   setname(name), subreaper(): process.c
 *   spawn(file, argv, env, dirfd, fds), reap(pid), pidfd(pid): spawn.c
 *   openbeneath(base, relative[, walk]): beneath.c
 *   watch(fd, callback), unwatch(handle): watch.c
 *   getmodes(fd), setmodes(fd, modes), rawoutput(fd): termios.c
 *   trim(): trim.c
 */
#include "addon.h"

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
      {"connect", NULL, connect_local, NULL, NULL, NULL, napi_enumerable, NULL},
      {"isatty", NULL, is_terminal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dup", NULL, duplicate, NULL, NULL, NULL, napi_enumerable, NULL},
      {"hungup", NULL, hung_up, NULL, NULL, NULL, napi_enumerable, NULL},
      {"peeruid", NULL, peer_uid, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, send_fds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"receive", NULL, receive_fds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"socketpair", NULL, socket_pair, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spawn", NULL, spawn_on, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openbeneath", NULL, open_beneath, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reap", NULL, reap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfd", NULL, pidfd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setname", NULL, set_name, NULL, NULL, NULL, napi_enumerable, NULL},
      {"subreaper", NULL, subreaper, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watch", NULL, watch_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unwatch", NULL, unwatch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getmodes", NULL, get_modes, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setmodes", NULL, set_modes, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rawoutput", NULL, raw_output, NULL, NULL, NULL, napi_enumerable, NULL},
      {"trim", NULL, trim_memory, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof *properties, properties);
  return exports;
}
