/**
 * Mutual TLS refused, every way the issue names (issue 24): the wrong CA on the client, an expired or
 * foreign client certificate, an expired server certificate, a server certificate without the name
 * it is reached by, plaintext on the TLS port, a client without its certificate. Each through the
 * gateway (stub → gateway → server) and without one (the TypeScript client connects itself): the
 * stub exits 255 with one line naming the reason, the command does not run, and the server logs
 * what it refused with the build node's address.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { DAEMON, SKIP_UNBUILT } from '../e2e/harness.js';
import { parseFrames, stringFrame, valueFrame } from '../lib/frames.mjs';
import { secretFor, type TlsFiles } from './certs.js';
import { makeCluster, makeStubs, nodeEnv, type Cluster } from './cluster.js';
import { nodesUnsupported, runIn } from './nodes.js';
import { lines, logLines } from './processes.js';
import { writeSecretDir } from './secret-dir.js';

const skip = SKIP_UNBUILT || nodesUnsupported();

interface Refusal {
  name: string;
  /** The build side's Secret (default: the good one). */
  client?: (cluster: Cluster) => Promise<TlsFiles>;
  /** The server's Secret, for this case only (default: the good one). */
  server?: (cluster: Cluster) => Promise<TlsFiles>;
  /** More environment for the client side (the section reads ${SERVER_NAME}). */
  env?: NodeJS.ProcessEnv;
  /** The reason, as the client says it after `...: `. */
  reason: RegExp;
  /** The server's log line for it (its msg), with `peer` the build node's address. */
  logged: RegExp;
}

const goodClient = (cluster: Cluster) => cluster.pki.client({ cn: 'build', san: ['DNS:build.ci'] });

const REFUSALS: Refusal[] = [
  {
    name: 'the client trusts another CA',
    client: async (cluster) => secretFor(await goodClient(cluster), cluster.pki.other),
    reason: /^the server's certificate is not signed by our CA$/,
    logged: /^TLS handshake refused$/,
  },
  {
    name: 'an expired client certificate',
    client: async (cluster) =>
      secretFor(await cluster.pki.client({ cn: 'build', san: ['DNS:build.ci'], expired: true })),
    reason: /^the server refused us: the client certificate \(CN=build, DNS:build\.ci\) has expired$/,
    logged: /^client certificate refused$/,
  },
  {
    name: 'a client certificate of another CA',
    client: async (cluster) =>
      secretFor(await cluster.pki.client({ cn: 'build', issuer: 'other' }), cluster.pki.ca),
    reason:
      /^the server refused us: the client certificate \(CN=build\) is not signed by the CA of this server$/,
    logged: /^client certificate refused$/,
  },
  {
    name: 'an expired server certificate',
    server: async (cluster) =>
      secretFor(
        await cluster.pki.server({ dns: ['tools.test'], ips: [cluster.tools.address], expired: true }),
      ),
    reason: /^the server's certificate has expired$/,
    logged: /^TLS handshake refused$/,
  },
  {
    name: 'a server certificate without the name it is reached by',
    env: { SERVER_NAME: 'wrong.test' },
    reason: /^the server's certificate does not carry the name it was reached by \(.*wrong\.test.*\)$/,
    logged: /^TLS handshake refused$/,
  },
];

t.test('TLS refusals, through the gateway and without one', { skip }, async (t) => {
  const cluster = await makeCluster(t, {
    commands: 'sh\n',
    gateway: false,
    sectionOptions: '--tls-server-name ${SERVER_NAME:-tools.test}',
  });
  const ran = join(cluster.buildWorkspace, 'ran');
  const goodServer = cluster.serverTls;
  let n = 0;

  for (const refusal of REFUSALS) {
    const clientTls = refusal.client ? join(cluster.dir, 'build-node', `tls-${n}`) : cluster.clientTls;
    if (refusal.client) writeSecretDir(clientTls, await refusal.client(cluster));
    if (refusal.server) {
      const serverTls = join(cluster.dir, 'tools-node', `tls-${n}`);
      writeSecretDir(serverTls, await refusal.server(cluster));
      await cluster.server.stop();
      await cluster.startServer([], { TLS_DIR: serverTls });
    }
    n++;
    const env = { ...cluster.env, ...refusal.env, TLS_DIR: clientTls };

    await t.test(`${refusal.name}: without a gateway`, async (t) => {
      const before = logLines(cluster.server, refusal.logged).length;
      const r = await cluster.stub('sh', ['-c', 'echo > ran'], { env });
      t.equal(r.code, 255, 'exit 255');
      t.equal(lines(r.err).length, 1, 'one line', { stderr: r.err });
      const prefix = `k8psh: cannot connect to server tools at tools.test:${cluster.port}: `;
      t.equal(r.err.slice(0, prefix.length), prefix);
      t.match(r.err.trim().slice(prefix.length), refusal.reason);
      t.notOk(existsSync(ran), 'the command did not run');
      await logged(t, cluster, refusal.logged, before);
    });

    await t.test(`${refusal.name}: through the gateway`, async (t) => {
      const gateway = await cluster.startGateway({ TLS_DIR: clientTls, ...refusal.env });
      const before = logLines(cluster.server, refusal.logged).length;
      // The stub's own TLS material is not used: the gateway's is.
      const r = await cluster.stub('sh', ['-c', 'echo > ran'], { env: { ...cluster.env, ...refusal.env } });
      t.equal(r.code, 255, 'exit 255');
      t.equal(lines(r.err).length, 1, 'one line', { stderr: r.err, gateway: gateway.stderr() });
      const prefix = `k8psh: cannot reach server tools at tools.test:${cluster.port}: `;
      t.equal(r.err.slice(0, prefix.length), prefix);
      t.match(r.err.trim().slice(prefix.length), refusal.reason);
      t.notOk(existsSync(ran), 'the command did not run');
      await logged(t, cluster, refusal.logged, before);
      // The gateway asks again in the background: a later call says the same.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const later = await cluster.stub('sh', ['-c', 'echo > ran'], {
        env: { ...cluster.env, ...refusal.env },
      });
      t.same([later.code, later.err], [255, r.err], 'a later call: the same line');
      t.equal(await gateway.stop(), 0, 'the gateway stops cleanly');
      // It took its stubs along.
      await makeStubs(cluster);
    });

    if (refusal.server) {
      await cluster.server.stop();
      await cluster.startServer([], { TLS_DIR: goodServer });
    }
  }

  await t.test('and the good material works (the cases above were refused for their reason)', async (t) => {
    const r = await cluster.stub('sh', ['-c', 'echo ok']);
    t.same([r.code, r.out, r.err], [0, 'ok\n', '']);
  });
});

/** A new line `message` in the server's log, whose peer is the build node's address. */
async function logged(t: Test, cluster: Cluster, message: RegExp, before: number): Promise<void> {
  // The server may log just after the client gave up.
  for (let i = 0; i < 50 && logLines(cluster.server, message).length <= before; i++)
    await new Promise((resolve) => setTimeout(resolve, 20));
  const entries = logLines(cluster.server, message).slice(before);
  t.ok(entries.length > 0, `the server logged ${message}`, { log: cluster.server.stderr().slice(-3000) });
  for (const entry of entries)
    t.match(
      String(entry.peer),
      new RegExp(`^${cluster.build.address.replace(/\./g, '\\.')}:\\d+$`),
      'peer: the build node',
    );
}

t.test('a client without its certificate', { skip }, async (t) => {
  const cluster = await makeCluster(t, { commands: 'sh\n', gateway: false });
  const incomplete = join(cluster.dir, 'build-node', 'tls-incomplete');
  writeSecretDir(incomplete, secretFor(await goodClient(cluster)));
  rmSync(join(incomplete, '..data', 'tls.crt'));
  const missing = join(incomplete, 'tls.crt');

  const direct = await cluster.stub('sh', ['-c', 'echo > ran'], {
    env: { ...cluster.env, TLS_DIR: incomplete },
  });
  t.equal(direct.code, 255);
  t.same(lines(direct.err), [
    `k8psh: cannot connect to server tools at tools.test:${cluster.port}: TLS material ${missing} cannot be read (ENOENT)`,
  ]);

  const gateway = await runIn(
    cluster.build,
    [DAEMON, '--gateway', '-c', cluster.buildConfig, '-e', cluster.bin, '-o'],
    {
      cwd: cluster.buildWorkspace,
      env: nodeEnv({ TLS_DIR: incomplete }),
      timeoutMs: 15000,
    },
  );
  t.equal(gateway.code, 1, 'k8pshd --gateway exits 1');
  t.equal(lines(gateway.err).length, 1, 'one line', { stderr: gateway.err });
  t.match(
    gateway.err,
    new RegExp(`TLS material ${missing.replace(/\./g, '\\.')} cannot be read \\(ENOENT\\)`),
  );
  t.notOk(existsSync(join(cluster.buildWorkspace, 'ran')), 'nothing ran');
});

/** A plain k8psh client on the build node: sends `frames` to the server's TLS address, prints what comes back (hex). */
const RAW_CLIENT = `
const [host, port, hex] = process.argv.slice(1);
const socket = require('node:net').connect({ host, port: Number(port) });
const chunks = [];
socket.on('connect', () => socket.write(Buffer.from(hex, 'hex')));
socket.on('data', (chunk) => chunks.push(chunk));
socket.on('error', (error) => process.stderr.write(error.code + '\\n'));
socket.on('close', () => process.stdout.write(Buffer.concat(chunks).toString('hex')));
setTimeout(() => { process.stderr.write('timeout\\n'); process.exit(3); }, 10000).unref();
`;

t.test('plaintext on the TLS port is refused with a message', { skip }, async (t) => {
  const cluster = await makeCluster(t, { commands: 'sh\n', gateway: false });
  const hello = Buffer.alloc(10);
  hello.write('k8p2', 0, 'latin1');
  hello.writeUInt16LE(2, 4);
  const requests = {
    // HELLO, then an original request.
    'our protocol (HELLO)': Buffer.concat([
      stringFrame(0x40, hello),
      stringFrame(0, '/'),
      stringFrame(2, 'sh'),
      valueFrame(3, 0),
    ]),
    'the original protocol': Buffer.concat([
      stringFrame(0, '/'),
      stringFrame(2, 'sh'),
      stringFrame(2, '-c'),
      stringFrame(2, 'echo > ran'),
      valueFrame(3, 0),
    ]),
  };
  const env = nodeEnv();
  for (const [name, bytes] of Object.entries(requests)) {
    await t.test(name, async (t) => {
      const before = logLines(cluster.server, /^plaintext connection refused/).length;
      const r = await runIn(
        cluster.build,
        [
          process.execPath,
          '-e',
          RAW_CLIENT,
          cluster.tools.address,
          String(cluster.port),
          bytes.toString('hex'),
        ],
        { env, timeoutMs: 15000 },
      );
      t.equal(r.code, 0, 'the server closed the connection', { stderr: r.err });
      const { frames, rest } = parseFrames(Buffer.from(r.out, 'hex'));
      t.equal(rest, 0);
      t.same(
        frames.map((frame) => [frame.type, frame.payload?.toString() ?? frame.value]),
        [
          [
            6,
            `k8psh: server tools accepts only mutual TLS on ${cluster.tools.address}:${cluster.port} (give the section --remote and --tls)\n`,
          ],
          [8, 255],
        ],
        'a STDERR_DATA line and EXIT_CODE 255',
      );
      const entries = logLines(cluster.server, /^plaintext connection refused/).slice(before);
      t.equal(entries.length, 1, 'logged');
      t.match(String(entries[0]?.peer), new RegExp(`^${cluster.build.address.replace(/\./g, '\\.')}:\\d+$`));
    });
  }
  t.notOk(existsSync(join(cluster.buildWorkspace, 'ran')), 'nothing ran');
  // The TLS listener is unharmed.
  const r = await cluster.stub('sh', ['-c', 'echo ok']);
  t.same([r.code, r.out, r.err], [0, 'ok\n', '']);
});
