/**
 * The image as a volume, for real (issue 23, item 3): our image, built from the Dockerfile, has its
 * root mounted read-only into the containers of a Pod played by podman, at /opt/k8psh, the way the
 * kubelet mounts an `image` volume. podman 4.3 cannot play an `image` volume itself, so the volume
 * becomes a read-only hostPath of `podman image mount IMAGE` (the image's root, read-only).
 *
 * 1. config/k8s/build-pod-image-volume.yaml runs: k8pshd started from the mounted image serves,
 *    stubs made by it in the builder's own root build a C program through make and gcc of the
 *    compiler container, probes pass; the server maps its runtime from the mounted image.
 * 2. Memory, three ways, in two Pods each (docs/kubernetes.md, "The image as a volume"): k8pshd from
 *    the image volume; from the init container's copy in a memory-backed emptyDir (a tmpfs: podman
 *    4.3 puts emptyDirs on disk whatever their medium, so the test mounts the tmpfs a kubelet would);
 *    and the image's executable as it was before the runtime was laid out beside it (the one file
 *    /bin/k8psh alone, nowhere to write: its runtime in memory files).
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statfsSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { loadManifests, MANIFEST_DIR, ROOT } from '../k8s/manifests.js';
import { executableOf, mib, processMemory, type ProcessMemory } from './memory.js';
import { buildK8pshImage, clientImage, toolsImage, toolsUnavailable } from './base-images.js';
import { lines, localize, playPod } from './play.js';
import { podman, podmanUnusable } from './podman.js';

const IMAGE = 'ghcr.io/k8psh/k8psh-node:0.1.0';
const MOUNT = '/opt/k8psh';
const DIST = path.join(ROOT, 'dist/k8psh');

type Obj = Record<string, unknown>;

const skip =
  podmanUnusable() || toolsUnavailable() || (!existsSync(DIST) && 'dist/k8psh is not built (npm run build)');

/** `podman image mount`: the image's root as a read-only directory here, unmounted in teardown. */
async function mountImage(t: Test, image: string): Promise<string> {
  const mounted = await podman(['image', 'mount', image]);
  t.teardown(async () => {
    await podman(['image', 'unmount', image], { check: false });
  });
  return mounted.out.trim();
}

/** The image volume of a Pod, as the kubelet would give it: the image's root, read-only. */
function imageVolumeAsHostPath(pod: Obj, root: string): string {
  const spec = pod.spec as { volumes: (Obj & { name: string; image?: { reference: string } })[] };
  const volume = spec.volumes.find((v) => v.image !== undefined);
  if (volume === undefined) throw new Error('no image volume');
  if (volume.image?.reference !== IMAGE) throw new Error(`image volume of ${volume.image?.reference}`);
  delete volume.image;
  volume.hostPath = { path: root, type: 'Directory' };
  return volume.name;
}

t.test(
  'build-pod-image-volume.yaml, played: k8pshd and its stubs run from the mounted image',
  { skip, timeout: 900000 },
  async (t) => {
    const [k8psh, tools, client] = await Promise.all([buildK8pshImage(), toolsImage(), clientImage()]);
    const root = await mountImage(t, k8psh.tag);

    const bin = path.join(root, 'bin');
    const runtime = readdirSync(bin).filter((name) => name.startsWith('.k8psh-runtime-'));
    t.equal(
      runtime.length,
      1,
      'the image holds the runtime directory beside /bin/k8psh (what a read-only mount needs)',
    );
    t.equal(readlinkSync(path.join(bin, 'k8pshd')), 'k8psh', '/bin/k8pshd -> k8psh');
    t.ok(
      lstatSync(path.join(bin, 'k8psh')).size < 1 << 20,
      '/bin/k8psh is the front alone: nothing to unpack',
    );

    const documents = loadManifests(path.join(MANIFEST_DIR, 'build-pod-image-volume.yaml')).map(
      (m) => m.object,
    );
    const pod = documents.find((d) => d.kind === 'Pod');
    if (pod === undefined) throw new Error('no Pod');
    imageVolumeAsHostPath(pod, root);
    const local = localize(pod, { 'gcc:13-bookworm': tools.tag, 'debian:bookworm-slim': client.tag });
    const played = await playPod(t, [...documents.filter((d) => d.kind === 'ConfigMap'), local]);
    const started = Date.now();
    await played.waitLog('builder', /build-tools Pod ready/, 180000);
    const readyMs = Date.now() - started;

    const out = lines((await played.logs('builder')).out);
    t.ok(
      out.includes('hello from a program compiled in the compiler container'),
      'the program built through the stubs runs',
    );
    t.match(out.join('\n'), /gcc \(Debian/, "`gcc --version` is the compiler container's gcc");
    t.ok(
      await played.waitHealthy('compiler', 60000),
      "the compiler's probe (/opt/k8psh/bin/k8pshd --health) passes",
    );

    const stub = await played.exec('builder', ['readlink', '/opt/k8psh-stubs/gcc']);
    t.equal(stub.out.trim(), `${MOUNT}/bin/k8psh`, 'a stub links to the executable in the image volume');
    const local_gcc = await played.exec('builder', ['sh', '-c', 'ls /usr/bin/gcc /usr/local/bin/gcc']);
    t.not(local_gcc.code, 0, 'the builder has no gcc of its own');
    const write = await played.exec('compiler', ['sh', '-c', `echo x > ${MOUNT}/bin/x`]);
    t.not(write.code, 0, 'the image volume is read-only in the container');
    const objects = await played.exec('compiler', ['ls', '/workspace/hello/hello']);
    t.equal(objects.code, 0, 'the program was written by the compiler container into the shared workspace');

    const pid = await played.hostPid('compiler');
    // The front execs the runtime's glibc loader, which maps node and the libraries.
    t.equal(
      executableOf(pid),
      `${MOUNT}/bin/${runtime[0]}/ld-linux-x86-64.so.2`,
      "the server runs the runtime's loader from the image volume",
    );
    const memory = processMemory(pid);
    t.ok(memory.runtimeFiles.includes(`${MOUNT}/bin/${runtime[0]}/node`), 'and maps node from there');
    t.equal(memory.memfdBytes, 0, 'no runtime in memory files');
    t.ok(
      memory.runtimeFiles.every((f) => f.startsWith(`${MOUNT}/bin/.k8psh-runtime-`)),
      'every runtime file mapped comes from the volume',
    );
    t.comment(
      `image volume: play ${played.playMs} ms, build until ready ${readyMs} ms; compiler's k8pshd RssAnon ${mib(memory.rssAnon)}, RssFile ${mib(memory.rssFile)}, RssShmem ${mib(memory.rssShmem)}`,
    );
  },
);

/** The image as it was before issue 23: /bin/k8psh the one file (the runtime inside it), user 65532. */
async function loneImage(t: Test): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'k8psh-lone-image-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'bin'));
  copyFileSync(DIST, path.join(dir, 'bin/k8psh'));
  symlinkSync('k8psh', path.join(dir, 'bin/k8pshd'));
  writeFileSync(
    path.join(dir, 'Containerfile'),
    'FROM scratch\nCOPY bin/ /bin/\nUSER 65532:65532\nENTRYPOINT ["/bin/k8psh"]\n',
  );
  const tag = `localhost/k8psh-test-lone:${path.basename(dir).slice(-6).toLowerCase()}`;
  await podman(['build', '-q', '-t', tag, dir], { timeoutMs: 300000 });
  t.teardown(async () => {
    await podman(['rmi', '-f', tag], { check: false });
  });
  return tag;
}

/** A tmpfs (what a memory-backed emptyDir is), unmounted in teardown. */
function tmpfs(t: Test, size: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'k8psh-emptydir-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0777`, 'tmpfs', dir], {
    timeout: 30000,
    encoding: 'utf8',
  });
  if (mounted.status !== 0) throw new Error(`mount tmpfs: ${mounted.stderr}`);
  t.teardown(() => {
    // Lazy: a container of the Pod, torn down after this, may still hold it.
    spawnSync('umount', ['--lazy', dir], { timeout: 30000 });
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

const WAYS = ['image', 'copy', 'lone'] as const;
type Way = (typeof WAYS)[number];

/** A Pod with one idle k8pshd per way, each on its own port, stubs disabled. */
function memoryPod(
  images: { k8psh: string; client: string; lone: string },
  root: string,
  copy: string,
): Obj[] {
  // One command each (a name serves once: the last section naming it wins).
  const conf = WAYS.map((way, i) => `[ ${way}:${1120 + i} ]\n${way}-true true\n`).join('');
  const server = (way: Way, executable: string, image: string, mounts: Obj[], extra: Obj = {}): Obj => ({
    name: way,
    image,
    command: [executable, '--config=/etc/k8psh/k8psh.conf', `--name=${way}`, '--disable-client-executables'],
    volumeMounts: [{ name: 'config', mountPath: '/etc/k8psh', readOnly: true }, ...mounts],
    ...extra,
  });
  return [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'k8psh-memory' }, data: { 'k8psh.conf': conf } },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'k8psh-memory' },
      spec: {
        restartPolicy: 'Never',
        initContainers: [
          {
            name: 'k8psh',
            image: images.k8psh,
            args: ['--install', '/k8psh/bin/k8pshd'],
            volumeMounts: [{ name: 'copy', mountPath: '/k8psh/bin' }],
          },
        ],
        containers: [
          server('image', `${MOUNT}/bin/k8pshd`, images.client, [
            { name: 'image', mountPath: MOUNT, readOnly: true },
          ]),
          server('copy', '/k8psh/bin/k8pshd', images.client, [
            { name: 'copy', mountPath: '/k8psh/bin', readOnly: true },
          ]),
          // The image's own user, its read-only-for-it root, no /tmp: nowhere to write.
          server('lone', '/bin/k8pshd', images.lone, []),
        ],
        volumes: [
          { name: 'config', configMap: { name: 'k8psh-memory' } },
          { name: 'image', hostPath: { path: root, type: 'Directory' } },
          { name: 'copy', hostPath: { path: copy, type: 'Directory' } },
        ],
      },
    },
  ];
}

t.test(
  "memory: k8pshd from the image volume, from the init container's copy, alone with nowhere to write",
  { skip, timeout: 900000 },
  async (t) => {
    const [k8psh, client] = await Promise.all([buildK8pshImage(), clientImage()]);
    const root = await mountImage(t, k8psh.tag);
    const lone = await loneImage(t);
    const images = { k8psh: k8psh.tag, client: client.tag, lone };

    // Two Pods of the same node, both running: what is shared between them, what each holds alone.
    const pods = [];
    const copies: string[] = [];
    for (const n of [1, 2]) {
      const copy = tmpfs(t, '256m');
      copies.push(copy);
      const played = await playPod(t, memoryPod(images, root, copy));
      for (const way of WAYS) await played.waitLog(way, /"msg":"listening"/, 60000);
      pods.push(played);
      t.comment(`Pod ${n}: play ${played.playMs} ms (the init container's copy included)`);
    }
    // Let start-up settle (lazy modules, the first GC) before reading.
    await sleep(2000);
    const figures: Record<Way, ProcessMemory>[] = [];
    for (const played of pods) {
      const row = {} as Record<Way, ProcessMemory>;
      for (const way of WAYS) row[way] = processMemory(await played.hostPid(way));
      figures.push(row);
    }
    for (const [i, copy] of copies.entries()) {
      const used = statfsSync(copy);
      t.comment(
        `Pod ${i + 1}: the copy in its memory-backed emptyDir holds ${mib((used.blocks - used.bfree) * used.bsize)}`,
      );
    }
    for (const [i, row] of figures.entries()) {
      for (const way of WAYS) {
        const m = row[way];
        t.comment(
          `Pod ${i + 1} ${way.padEnd(5)}: RssAnon ${mib(m.rssAnon)}, RssFile ${mib(m.rssFile)}, RssShmem ${mib(m.rssShmem)}; ` +
            `Pss_File ${mib(m.pssFile)}, Pss_Shmem ${mib(m.pssShmem)}; memory files ${mib(m.memfdBytes)}`,
        );
      }
    }

    for (const [i, { image, copy, lone: alone }] of figures.entries()) {
      const pod = `Pod ${i + 1}`;
      t.ok(
        image.rssFile > 16 * 2 ** 20 && image.rssShmem < 2 ** 20,
        `${pod}, image volume: the runtime is file pages of the image`,
      );
      t.equal(image.memfdBytes, 0, `${pod}, image volume: no memory files`);
      t.ok(
        image.pssFile < image.rssFile * 0.6,
        `${pod}, image volume: those pages are shared with the other Pod's server (Pss_File about half of RssFile)`,
      );
      t.ok(
        copy.rssShmem > 16 * 2 ** 20 && copy.rssFile < 2 ** 20,
        `${pod}, init-container copy: the runtime is tmpfs pages of the emptyDir`,
      );
      t.ok(
        copy.pssShmem > copy.rssShmem * 0.9,
        `${pod}, init-container copy: not shared with the other Pod (each has its own copy)`,
      );
      t.ok(
        alone.memfdBytes > 100 * 2 ** 20,
        `${pod}, lone executable, nowhere to write: the whole runtime in memory files`,
      );
      t.ok(alone.pssShmem > alone.rssShmem * 0.9, `${pod}, lone executable: private to the process`);
    }
  },
);
