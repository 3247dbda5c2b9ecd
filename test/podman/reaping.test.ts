/**
 * k8pshd as PID 1 of its container reaps what its commands leave behind (issue 23, item 2; the
 * reaping asked by "Safe on loopback first", src/server/orphans.ts), seen from outside the Pod.
 *
 * The Pod is config/k8s/build-pod.yaml's, changed only where the test needs it: the compiler
 * container (k8pshd is its command, so PID 1) on the Alpine-like image, its section of the ConfigMap
 * also serving `sh`, and the builder reduced to making its stubs and sleeping. Through the `sh` stub
 * the builder runs `sh -c 'sleep 0.2 & exit 0'` 20 times: each sleep outlives its shell and is handed
 * to the container's PID 1. From the host (/proc, as root) no <defunct> child of k8pshd remains once
 * they have ended; a longer one is seen as k8pshd's child while it runs, and is reaped when killed.
 * The control: the builder's PID 1 (sleep, which reaps nothing) keeps the same leftovers as zombies.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, SKIP_UNBUILT } from '../e2e/harness.js';
import { loadManifests } from '../k8s/manifests.js';
import { sleep } from '../lib/net.mjs';
import {
  alpineImage,
  alpineUnavailable,
  buildK8pshImage,
  clientImage,
  debianUnavailable,
} from './base-images.js';
import { localize, playPod } from './play.js';
import { podmanUnusable } from './podman.js';

const skip = SKIP_UNBUILT || podmanUnusable() || alpineUnavailable() || debianUnavailable();

const documents = loadManifests(join(ROOT, 'config/k8s/build-pod.yaml')).map((m) => m.object);
const RUNS = 20;

interface Proc {
  pid: number;
  ppid: number;
  state: string;
  comm: string;
}

/** The host's processes whose parent is `parent`. */
function childrenOf(parent: number): Proc[] {
  const found: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid ...; comm may hold spaces and parentheses.
    const close = stat.lastIndexOf(')');
    const [state, ppid] = stat.slice(close + 2).split(' ');
    if (Number(ppid) === parent)
      found.push({
        pid: Number(entry),
        ppid: parent,
        state: state ?? '',
        comm: stat.slice(stat.indexOf('(') + 1, close),
      });
  }
  return found;
}

/** A process's arguments, space-separated ('' once it is gone or a zombie). */
function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

/** Polls until `check` holds (or the time is up); the last value seen. */
async function until<T>(read: () => T, check: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = read();
  while (!check(value) && Date.now() < deadline) {
    await sleep(50);
    value = read();
  }
  return value;
}

t.test('k8pshd as PID 1 of its container reaps orphaned commands', { skip, timeout: 180000 }, async (t) => {
  const images = {
    'ghcr.io/k8psh/k8psh-node:0.1.0': (await buildK8pshImage()).tag,
    'gcc:13-bookworm': (await alpineImage()).tag,
    'debian:bookworm-slim': (await clientImage()).tag,
  };
  const configMap = structuredClone(documents.find((d) => d.kind === 'ConfigMap')!) as {
    data: Record<string, string>;
  };
  const config = configMap.data['k8psh.conf']!;
  t.match(
    config,
    /\[ compiler:1120 \][^[]*$/,
    "the compiler's section is the last one of the shipped config",
  );
  configMap.data['k8psh.conf'] = `${config}sh\n`;
  const pod = localize(
    documents.find((d) => d.kind === 'Pod')!,
    images,
  ) as {
    spec: { containers: { name: string; command?: string[]; args?: string[] }[] };
  };
  const builder = pod.spec.containers.find((c) => c.name === 'builder')!;
  builder.command = [
    '/bin/sh',
    '-c',
    'mkdir -p "$K8PSH_STUBS" && k8pshd --name=builder --executable-directory="$K8PSH_STUBS" && echo stubs-ready && exec sleep infinity',
  ];
  const compiler = pod.spec.containers.find((c) => c.name === 'compiler')!;
  t.same(compiler.command, ['/k8psh/bin/k8pshd'], 'the shipped compiler container runs k8pshd itself');

  const played = await playPod(t, [configMap, pod]);
  t.comment(`reaping Pod played (init container included) in ${played.playMs} ms`);
  await played.waitLog('builder', /stubs-ready/, 60000);
  await played.waitHealthy('compiler', 30000);
  const server = await played.hostPid('compiler');
  t.match(
    readFileSync(`/proc/${server}/status`, 'utf8'),
    /^NSpid:\s+\d+\s+1$/m,
    'k8pshd is PID 1 of its container',
  );
  t.match(readFileSync(`/proc/${server}/cmdline`, 'utf8'), /k8pshd/, 'the host pid is k8pshd');

  const stub = '/opt/k8psh/stubs/sh';
  const loop = await played.exec(
    'builder',
    [
      '/bin/sh',
      '-c',
      `for i in $(seq ${RUNS}); do ${stub} -c 'sleep 0.2 & exit 0' || exit 1; done; echo done`,
    ],
    { workdir: '/src', timeoutMs: 120000 },
  );
  t.equal(loop.code, 0, `${RUNS} times sh -c 'sleep 0.2 & exit 0' through the sh stub`, { err: loop.err });
  t.equal(loop.out, 'done\n');

  // A longer one: while it runs it is k8pshd's child (its shell is gone), not anyone else's.
  const long = await played.exec('builder', [stub, '-c', 'sleep 300 >/dev/null 2>&1 & exit 0'], {
    workdir: '/src',
  });
  t.equal(long.code, 0, "sh -c 'sleep 300 & exit 0' through the stub", { err: long.err });
  const sleeping = await until(
    () => childrenOf(server).filter((p) => p.state !== 'Z' && cmdline(p.pid) === 'sleep 300'),
    (list) => list.length > 0,
    10000,
  );
  t.equal(sleeping.length, 1, "the orphaned sleep is k8pshd's child now", { sleeping });

  const short = await until(
    () => childrenOf(server),
    (list) => list.every((p) => p.pid === sleeping[0]?.pid),
    15000,
  );
  t.same(
    short.filter((p) => p.pid !== sleeping[0]?.pid),
    [],
    `the ${RUNS} short sleeps ended and were reaped: no child of k8pshd left, no <defunct>`,
  );

  if (sleeping[0] !== undefined) process.kill(sleeping[0].pid, 'SIGKILL');
  const after = await until(
    () => childrenOf(server),
    (list) => list.length === 0,
    15000,
  );
  t.same(after, [], 'killed, the long one is reaped too');
  t.equal((await played.state('compiler')).status, 'running', 'k8pshd serves on');

  // The control: the same leftovers under a PID 1 that reaps nothing (the builder's sleep).
  const init = await played.hostPid('builder');
  t.equal(readFileSync(`/proc/${init}/comm`, 'utf8'), 'sleep\n', "the builder's PID 1 is sleep");
  const control = await played.exec('builder', [
    '/bin/sh',
    '-c',
    "for i in 1 2 3; do /bin/sh -c 'sleep 0.2 & exit 0'; done",
  ]);
  t.equal(control.code, 0);
  const zombies = await until(
    () => childrenOf(init).filter((p) => p.state === 'Z'),
    (list) => list.length >= 3,
    10000,
  );
  t.equal(zombies.length, 3, 'there they stay, <defunct>: what k8pshd spares its container', { zombies });
});
