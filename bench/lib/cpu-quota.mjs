/**
 * A CPU limit for a simulated node's processes, as a Pod's `resources.limits.cpu` sets one: a
 * cgroup with a CFS quota, `k8b-<pid>-NAME` under the cpu hierarchy. cgroup v1
 * (/sys/fs/cgroup/cpu: cpu.cfs_quota_us / cpu.cfs_period_us) or v2 (/sys/fs/cgroup: cpu.max, the cpu
 * controller enabled for its children). A process joins by writing its pid to `procs` before it
 * execs (./in-node.mjs), so everything it starts is inside. Removed at exit whatever happens; those
 * of a bench process that is gone are swept at the next start.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PREFIX, isStale } from './netns.mjs';

const PERIOD_US = 100_000;
const V1 = '/sys/fs/cgroup/cpu';
const V2 = '/sys/fs/cgroup';

function hierarchy() {
  if (existsSync(join(V1, 'cpu.cfs_quota_us'))) return { version: 1, root: V1 };
  if (existsSync(join(V2, 'cgroup.controllers'))) return { version: 2, root: V2 };
  return null;
}

let probed;

/** Why no CPU quota can be set here, or false. Probed once: a group made, limited and removed. */
export function cpuQuotaUnsupported() {
  probed ??= probe();
  return probed;
}

function probe() {
  if (process.platform !== 'linux') return 'cgroups need Linux';
  if (!hierarchy()) return `no cgroup cpu controller at ${V1} (v1) or ${V2} (v2)`;
  try {
    const group = cpuGroup('probe');
    try {
      group.limit(0.5);
    } finally {
      group.remove();
    }
    return false;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * A cgroup for one node: `procs` (the file a pid joins by), `limit(cpus)` (null: none),
 * `throttledMs()` (time its processes waited for the next period, so far), `remove()`.
 */
export function cpuGroup(name) {
  const where = hierarchy();
  if (!where) throw new Error('no cgroup cpu controller');
  sweepStale(where);
  const dir = join(where.root, `${PREFIX}${name}`);
  const write = (file, text) => {
    try {
      writeFileSync(join(dir, file), text);
    } catch (error) {
      throw new Error(
        `cgroup v${where.version}: cannot write ${text.trim()} to ${join(dir, file)} (${error.code})`,
        {
          cause: error,
        },
      );
    }
  };
  if (where.version === 2) enableCpuController(where.root);
  try {
    mkdirSync(dir);
  } catch (error) {
    throw new Error(`cgroup v${where.version}: cannot create ${dir} (${error.code})`, { cause: error });
  }
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    removeGroup(dir);
  };
  process.on('exit', remove);
  return {
    dir,
    version: where.version,
    procs: join(dir, 'cgroup.procs'),
    limit(cpus) {
      const quota = cpus === null ? null : Math.round(cpus * PERIOD_US);
      if (where.version === 1) {
        write('cpu.cfs_period_us', String(PERIOD_US));
        write('cpu.cfs_quota_us', String(quota ?? -1));
      } else write('cpu.max', `${quota ?? 'max'} ${PERIOD_US}`);
    },
    throttledMs() {
      const stat = readFileSync(join(dir, 'cpu.stat'), 'utf8');
      const field = (key) => Number(new RegExp(`^${key} (\\d+)`, 'm').exec(stat)?.[1] ?? NaN);
      return where.version === 1 ? field('throttled_time') / 1e6 : field('throttled_usec') / 1e3;
    },
    remove,
  };
}

/** v2: a child's cpu.max exists only once the parent hands the cpu controller down. */
function enableCpuController(root) {
  const control = join(root, 'cgroup.subtree_control');
  if (readFileSync(control, 'utf8').split(/\s+/).includes('cpu')) return;
  const available = readFileSync(join(root, 'cgroup.controllers'), 'utf8').trim();
  if (!available.split(/\s+/).includes('cpu'))
    throw new Error(`cgroup v2: no cpu controller in ${root} (cgroup.controllers: ${available || 'none'})`);
  try {
    writeFileSync(control, '+cpu');
  } catch (error) {
    throw new Error(`cgroup v2: cannot enable the cpu controller in ${control} (${error.code})`, {
      cause: error,
    });
  }
}

/** Kills what is left in the group, waits (at most 5 s) for it to be empty, and removes it. */
function removeGroup(dir) {
  const deadline = Date.now() + 5000;
  for (;;) {
    let pids;
    try {
      pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return; // Gone already.
    }
    for (const pid of pids)
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Exited meanwhile.
      }
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      if (error.code !== 'EBUSY' || Date.now() > deadline) return;
    }
    // Synchronous: this runs in exit handlers and on SIGINT, where nothing asynchronous runs again.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

function sweepStale(where) {
  for (const name of readdirSync(where.root)) if (isStale(name)) removeGroup(join(where.root, name));
}
