/**
 * config/k8s/test-job.yaml as a real Pod (issue 23, item 2): the Job's spec.template played by podman
 * with its ConfigMap, the images replaced by local ones (our image built from the Dockerfile, an
 * Alpine-like server image, a glibc client image) and `ports:` dropped; everything else as shipped.
 * The original k8psh's checks: the client runs uname -a, printenv K8PSH_TEST and pwd locally, then
 * through the stubs in the server container (ServerTest, /workspace-server/test); the server exits 0
 * after its 3 connections; the init container's --install left k8pshd and its runtime in the
 * emptyDir.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, SKIP_UNBUILT } from '../e2e/harness.js';
import { loadManifests } from '../k8s/manifests.js';
import {
  alpineImage,
  alpineUnavailable,
  buildK8pshImage,
  clientImage,
  debianUnavailable,
} from './base-images.js';
import { lines, localize, playPod, podFromTemplate } from './play.js';
import { podmanUnusable } from './podman.js';

const skip = SKIP_UNBUILT || podmanUnusable() || alpineUnavailable() || debianUnavailable();

const documents = loadManifests(join(ROOT, 'config/k8s/test-job.yaml')).map((m) => m.object);

/** The client's own lines: without what K8PSH_DEBUG makes k8pshd and the stubs write (pretty logs). */
function clientLines(text: string): string[] {
  return lines(text).filter(
    (line) =>
      !/^\[\d\d:\d\d:\d\d\.\d{3}\]/.test(line) && // a pretty log record
      !/^\s/.test(line) && // ...and its fields
      !/^k8psh\[\d+\] /.test(line), // a stub's debug line
  );
}

t.test('config/k8s/test-job.yaml, played as a Pod', { skip, timeout: 180000 }, async (t) => {
  const images = {
    'ghcr.io/k8psh/k8psh-node:0.1.0': (await buildK8pshImage()).tag,
    'alpine:3.22': (await alpineImage()).tag,
    'ubuntu:24.04': (await clientImage()).tag,
  };
  const job = documents.find((d) => d.kind === 'Job')!;
  const pod = localize(podFromTemplate(job), images);
  const played = await playPod(t, [...documents.filter((d) => d.kind === 'ConfigMap'), pod]);
  t.comment(`test Job Pod played (init container included) in ${played.playMs} ms`);

  const clientExit = await played.waitExit('client', 60000);
  const client = await played.logs('client');
  t.equal(clientExit, 0, 'the client command succeeds', { logs: client.out });
  t.match(client.out, /\r\n/, "tty: true, as shipped: the logs are a terminal's (CRLF)");
  t.match(
    clientLines(client.out),
    [/^Linux \S+ /, 'ClientTest', '/workspace/test', /^Linux \S+ /, 'ServerTest', '/workspace-server/test'],
    'local, then remote: uname -a, printenv K8PSH_TEST, pwd',
    { lines: clientLines(client.out) },
  );
  t.equal(clientLines(client.out).length, 6, 'six lines of its own');
  t.match(client.out, /client executables created/, 'K8PSH_DEBUG as shipped: the stubs were made');

  const serverExit = await played.waitExit('server', 30000);
  const server = await played.logs('server');
  t.equal(serverExit, 0, 'the server exits 0 after --max-connections=3', { logs: server.err });
  const records = lines(server.err).map((line) => JSON.parse(line) as Record<string, unknown>);
  const started = records.filter((r) => r.msg === 'starting' && r.component === 'Process');
  t.same(
    started.map((r) => [r.command, r.file, r.cwd]),
    [
      ['uname', '/bin/uname', '/workspace-server/test'],
      ['printenv', '/usr/bin/printenv', '/workspace-server/test'],
      ['pwd', '/bin/pwd', '/workspace-server/test'],
    ],
    "the commands ran in the server container: busybox's uname and pwd, the musl printenv",
  );
  t.same(
    records.filter((r) => r.msg === 'command ended').map((r) => r.code),
    [0, 0, 0],
    'each ended with 0',
  );
  t.ok(
    records.some((r) => r.msg === 'listening' && r.port === 1120),
    'k8pshd listened on 1120, loopback of the Pod',
  );
  t.equal(records.at(-1)?.msg, 'stopped', 'and stopped');

  // The init container is gone (podman removes init containers once they ran); its work is not.
  const dir = await played.volumePath('k8psh-bin');
  const installed = readdirSync(dir).sort();
  t.match(installed, [/^\.k8psh-runtime-[0-9a-f]+$/, 'k8pshd'], 'k8pshd and its runtime in the emptyDir');
  t.equal(installed.length, 2, 'nothing else');
  t.equal(statSync(join(dir, 'k8pshd')).mode & 0o777, 0o755, 'k8pshd mode 0755');
  const runtime = join(dir, installed[0]!);
  const size = readdirSync(runtime).reduce((sum, name) => sum + statSync(join(runtime, name)).size, 0);
  t.comment(`installed into the emptyDir: ${(size / 2 ** 20).toFixed(1)} MiB of runtime`);
});
