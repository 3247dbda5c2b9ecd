/**
 * Certificates rotated as the kubelet rotates a mounted Secret (a new timestamped directory, then
 * `..data` swapped by one rename: ./secret-dir.ts), with sessions running (issue 24). The server and
 * the gateway follow their directories without a restart: running sessions finish on the connection
 * they started on, new connections use the new certificate. A certificate the server refuses fails
 * the next call with the reason; the next good one serves again.
 */
import { X509Certificate } from 'node:crypto';
import t from 'tap';
import { SKIP_UNBUILT } from '../e2e/harness.js';
import { secretFor } from './certs.js';
import { makeCluster, makeStubs, nodeEnv, TOOLS_NAME, type Cluster } from './cluster.js';
import { nodesUnsupported, runIn } from './nodes.js';
import { collect, count, exitOf, lines, logLines, waitForMore, waitUntil } from './processes.js';
import { rotateSecretDir } from './secret-dir.js';

const skip = SKIP_UNBUILT || nodesUnsupported();

/** A session that lasts: it is running when the rotation happens and must finish as if nothing had. */
function longSession(cluster: Cluster) {
  const stub = cluster.spawnStub('sh', ['-c', 'echo started; sleep 3; echo done; exit 7']);
  const out = collect(stub, 'stdout');
  const err = collect(stub, 'stderr');
  const exit = exitOf(stub);
  return {
    started: waitUntil(out, /^started\n/),
    finished: exit.then((e) => ({ code: e.code, out: out(), err: err() })),
  };
}

/** One TLS handshake from the build node, as the gateway makes it: the server certificate's fingerprint. */
const PEEK = `
const fs = require('node:fs');
const [host, port, dir, name] = process.argv.slice(1);
const read = (file) => fs.readFileSync(dir + '/' + file);
const socket = require('node:tls').connect({
  host, port: Number(port), servername: name, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3',
  cert: read('tls.crt'), key: read('tls.key'), ca: read('ca.crt'),
});
socket.on('secureConnect', () => {
  process.stdout.write(socket.getPeerCertificate().fingerprint256);
  socket.destroy();
});
socket.on('error', (error) => { process.stderr.write(error.message); process.exitCode = 1; });
`;

async function serverFingerprint(cluster: Cluster): Promise<string> {
  const r = await runIn(
    cluster.build,
    [
      process.execPath,
      '-e',
      PEEK,
      cluster.tools.address,
      String(cluster.port),
      cluster.clientTls,
      TOOLS_NAME,
    ],
    { env: nodeEnv(), timeoutMs: 15000 },
  );
  if (r.code !== 0) throw new Error(`TLS handshake from the build node failed: ${r.err}`);
  return r.out;
}

const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;
const CONNECTED = /"msg":"connected to the server"/;

t.test('the server rotates its certificate while a session runs', { skip }, async (t) => {
  const cluster = await makeCluster(t, { commands: 'sh\n' });
  const { pki, tools } = cluster;
  const first = await pki.server({ dns: [TOOLS_NAME], ips: [tools.address] });
  t.equal(await serverFingerprint(cluster), fingerprint(first.crt), 'the first certificate is served');
  const pid = cluster.server.pid();

  const session = longSession(cluster);
  await session.started;
  const second = await pki.server({ dns: [TOOLS_NAME], ips: [tools.address], cn: 'tools-rotated' });
  rotateSecretDir(cluster.serverTls, secretFor(second));
  await cluster.server.waitFor(/TLS material changed: new connections use it/, 5000);
  t.equal(
    await serverFingerprint(cluster),
    fingerprint(second.crt),
    'a new connection gets the new certificate',
  );

  t.same(
    await session.finished,
    { code: 7, out: 'started\ndone\n', err: '' },
    'the running session completed',
  );
  t.equal(cluster.server.pid(), pid, 'no restart');
  t.equal(cluster.server.process.exitCode, null);
  const [line] = logLines(cluster.server, /^TLS material changed/);
  t.equal(line?.directory, cluster.serverTls);

  // Calls go on: through the gateway's connection, and with a new handshake (no gateway).
  const again = await cluster.stub('sh', ['-c', 'echo again']);
  t.same([again.code, again.out, again.err], [0, 'again\n', '']);
  await cluster.gateway!.stop();
  await makeStubs(cluster);
  const direct = await cluster.stub('sh', ['-c', 'echo direct']);
  t.same([direct.code, direct.out, direct.err], [0, 'direct\n', ''], 'a client without a gateway accepts it');
});

t.test('the gateway rotates its client certificate while a session runs', { skip }, async (t) => {
  const cluster = await makeCluster(t, { commands: 'sh\n' });
  const gateway = cluster.gateway!;
  const pid = gateway.pid();
  const session = longSession(cluster);
  await session.started;
  const connected = count(gateway, CONNECTED);
  rotateSecretDir(
    cluster.clientTls,
    secretFor(await cluster.pki.client({ cn: 'build2', san: ['DNS:build2.ci'] })),
  );
  await gateway.waitFor(/TLS material changed: reconnecting/, 5000);
  await waitForMore(gateway, CONNECTED, connected);
  t.same(
    await session.finished,
    { code: 7, out: 'started\ndone\n', err: '' },
    'the running session completed',
  );

  const next = await cluster.stub('sh', ['-c', 'echo next']);
  t.same([next.code, next.out, next.err], [0, 'next\n', '']);
  const identities = logLines(cluster.server, /^remote session$/).map((line) => line.identity);
  t.same(
    identities,
    ['CN=build, DNS:build.ci', 'CN=build2, DNS:build2.ci'],
    'the next session is the new identity',
  );
  t.equal(gateway.pid(), pid, 'the same gateway');
  t.equal(gateway.process.exitCode, null);
});

t.test('rotated to a certificate the server refuses, then to a good one', { skip }, async (t) => {
  const cluster = await makeCluster(t, { commands: 'sh\n' });
  const gateway = cluster.gateway!;
  const pid = gateway.pid();
  const { pki } = cluster;
  const ok = await cluster.stub('sh', ['-c', 'echo ok']);
  t.same([ok.code, ok.out], [0, 'ok\n']);

  // A session running on the connection made with the good certificate finishes on it.
  const session = longSession(cluster);
  await session.started;
  const refused = count(gateway, /"msg":"the server refused us"/);
  rotateSecretDir(
    cluster.clientTls,
    secretFor(await pki.client({ cn: 'build', san: ['DNS:build.ci'], expired: true })),
  );
  await gateway.waitFor(/TLS material changed: reconnecting/, 5000);
  await waitForMore(gateway, /"msg":"the server refused us"/, refused, 5000);
  const failed = await cluster.stub('sh', ['-c', 'echo > ran; echo served']);
  t.equal(failed.code, 255, 'exit 255');
  t.same(lines(failed.err), [
    `k8psh: cannot reach server tools at tools.test:${cluster.port}: the server refused us: the client certificate (CN=build, DNS:build.ci) has expired`,
  ]);
  t.equal(failed.out, '', 'nothing ran');
  t.same(
    await session.finished,
    { code: 7, out: 'started\ndone\n', err: '' },
    'the running session completed',
  );

  const connected = count(gateway, CONNECTED);
  rotateSecretDir(cluster.clientTls, secretFor(await pki.client({ cn: 'build3' })));
  await waitForMore(gateway, CONNECTED, connected);
  const back = await cluster.stub('sh', ['-c', 'echo back']);
  t.same([back.code, back.out, back.err], [0, 'back\n', '']);
  t.equal(logLines(cluster.server, /^remote session$/).at(-1)?.identity, 'CN=build3');
  t.equal(gateway.pid(), pid, 'no restart');
});
