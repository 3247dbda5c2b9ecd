/**
 * Processes in a simulated node (./netns.mjs): the daemons (k8pshd as a server, a gateway, a
 * Pod-local server) with their log and long-lived pid, and the driver (./remote-driver.mjs) that
 * runs and times the stubs there.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { inNode } from './netns.mjs';
import { NODE } from './process.mjs';

const DRIVER = fileURLToPath(new URL('./remote-driver.mjs', import.meta.url));

/**
 * `argv` run in `node`; with `cgroup` (a cgroup.procs file) it is in that cgroup from its first
 * instruction, and so is everything it starts (a tools replica's commands share its CPU limit).
 */
export function daemonIn(node, argv, { cwd, env, cgroup = null }) {
  const args = inNode(node, argv);
  const child = cgroup
    ? spawn('sh', ['-c', 'echo $$ > "$0" && exec "$@"', cgroup, 'ip', ...args], {
        cwd,
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      })
    : spawn('ip', args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  let gone = false;
  const listeners = new Set();
  const notify = () => [...listeners].forEach((listener) => listener());
  child.stderr.on('data', (chunk) => {
    log += chunk.toString();
    notify();
  });
  const exited = new Promise((resolveExit) =>
    child.once('exit', () => {
      gone = true;
      notify();
      resolveExit();
    }),
  );
  return {
    log: () => log,
    /**
     * The process that serves: dist/k8pshd is a small front that execs the runtime, so the pid
     * is read where the server logs it rather than assumed to be the child's.
     */
    get pid() {
      const match = /"pid":(\d+)/.exec(log);
      return match ? Number(match[1]) : child.pid;
    },
    waitFor(pattern, ms = 20_000) {
      return new Promise((resolveSeen, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`${argv.join(' ')}: not seen within ${ms} ms: ${pattern}\n${log}`));
        }, ms);
        function check() {
          if (pattern.test(log) || gone) {
            clearTimeout(timer);
            listeners.delete(check);
            if (pattern.test(log)) resolveSeen();
            else reject(new Error(`${argv.join(' ')} exited before ${pattern}:\n${log}`));
          }
        }
        listeners.add(check);
        check();
      });
    },
    kill() {
      if (!gone) child.kill('SIGKILL');
    },
    async stop() {
      if (gone) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The driver in `node`, for the whole run: `call(request)` resolves with its reply's result. */
export function startDriver(node) {
  const child = spawn('ip', inNode(node, [NODE, DRIVER]), { stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting = new Map();
  let next = 0;
  let stderr = '';
  let gone = false;
  child.stderr.on('data', (chunk) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const reply = JSON.parse(line);
    const pending = waiting.get(reply.id);
    waiting.delete(reply.id);
    if (reply.error) pending?.reject(new Error(reply.error));
    else pending?.resolve(reply.result);
  });
  child.on('exit', (code, signal) => {
    gone = true;
    for (const { reject } of waiting.values())
      reject(new Error(`the driver in the ${node.name} node exited (${signal ?? code}): ${stderr}`));
    waiting.clear();
  });
  child.stdin.on('error', () => {});
  return {
    call(request) {
      if (gone) return Promise.reject(new Error(`the driver in the ${node.name} node is gone: ${stderr}`));
      const id = next++;
      return new Promise((resolveCall, reject) => {
        waiting.set(id, { resolve: resolveCall, reject });
        child.stdin.write(`${JSON.stringify({ id, ...request })}\n`);
      });
    },
    close: () => child.stdin.end(),
    kill() {
      if (!gone) child.kill('SIGKILL');
    },
  };
}
