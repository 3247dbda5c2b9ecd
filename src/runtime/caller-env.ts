/**
 * The caller's environment, as the caller set it (docs/build.md, "The caller's environment").
 *
 * The front executable (native/front/stash.c) renames every variable that Node, libuv, OpenSSL or
 * the glibc loader would obey (NODE_OPTIONS, UV_THREADPOOL_SIZE, LD_PRELOAD, ...) to
 * `K8PSH_STASH_<NAME>` before our runtime starts, so none of them changes k8psh itself, and adds
 * `K8PSH_SELF`, its own real path. This module undoes that in a view of the environment: the one to
 * use wherever the user's environment matters (a command's env specs, config substitution, the
 * daemon's re-exec). The names are never written back into process.env: Node and libuv read some
 * of them lazily (UV_THREADPOOL_SIZE at the first thread-pool job). Run without the front (from the
 * sources), the view is process.env itself.
 */
import './memory-fds.js'; // takes K8PSH_FDS out of process.env first
import './stub-cache-target.js'; // takes K8PSH_STUB_CACHE out of process.env first
import { SELF_VARIABLE, STASH_PREFIX, STUB_CACHE_VARIABLE } from '../shared-rules.js';

/** The front executable that started us (its real path), or undefined when none did. */
export const frontExecutable: string | undefined = process.env[SELF_VARIABLE] || undefined;

// process.env is left as it is (this module may be evaluated once per lazy bundle): every child
// we start gets an explicit environment, the caller's view or a command's own (docs/session.md).
let view: NodeJS.ProcessEnv | undefined;

/**
 * The caller's variables from an environment the front prepared: `K8PSH_STASH_<NAME>` is `<NAME>`
 * again and `K8PSH_SELF` and `K8PSH_STUB_CACHE` (ours) are gone.
 */
export function restore(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith(STASH_PREFIX)) result[name.slice(STASH_PREFIX.length)] = value;
    else if (name !== SELF_VARIABLE && name !== STUB_CACHE_VARIABLE) result[name] = value;
  }
  return result;
}

/** The caller's environment (see above): process.env when no front started us. */
export function callerEnv(): NodeJS.ProcessEnv {
  if (frontExecutable === undefined) return process.env;
  view ??= restore(process.env);
  return view;
}
