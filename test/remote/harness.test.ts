/**
 * The remote tests' own ground: the certificates do what mTLS 1.3 expects of them (a good pair
 * works, an expired or foreign certificate is refused, names and identities are where a server
 * looks for them), the Secret directory is the kubelet's and rotates as it does, and the nodes
 * reach each other, nothing else, and vanish at cleanup.
 */
import { once } from 'node:events';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tls from 'node:tls';
import t from 'tap';
import { cleanup, tempDir } from '../e2e/harness.js';
import { makePki, secretFor, type Leaf } from './certs.js';
import { bindWorkspace, makeNodes, nodesUnsupported, probe, runIn, spawnIn, waitForPortIn } from './nodes.js';
import { rotateSecretDir, writeSecretDir } from './secret-dir.js';

const dir = tempDir('k8psh-remote-harness-');
t.teardown(() => cleanup(dir));
const pki = await makePki(join(dir, 'pki'));
const SERVICE = 'k8psh-tools.build.svc.cluster.local';
const SPIFFE = 'spiffe://cluster.local/ns/build/sa/build';

interface Outcome {
  /** 'ok' once the server's greeting arrived, else the client's error code (or how it ended). */
  client: string;
  /** The server's view: the client's subject CN and subjectAltName, or why it refused it. */
  server: string;
}

/**
 * One mTLS 1.3 connection on loopback, both sides verifying, with the certificates given.
 *
 * With `reject` (the default) Node's server drops a client whose certificate fails without
 * saying why: no alert reaches the client (a plain close), and the server's tlsClientError is only
 * ECONNRESET "socket hang up". With `reject: false` the server accepts the handshake and reads
 * the verdict (authorizationError) itself, which is how a reason can be logged.
 */
async function handshake(
  server: Leaf,
  client: Leaf,
  options: { servername?: string; serverCa?: string; clientCa?: string; reject?: boolean } = {},
): Promise<Outcome> {
  let seen = 'no connection';
  const listener = tls.createServer(
    {
      key: server.key,
      cert: server.crt,
      ca: options.serverCa ?? pki.ca.crt,
      requestCert: true,
      rejectUnauthorized: options.reject ?? true,
      minVersion: 'TLSv1.3',
    },
    (socket) => {
      if (!socket.authorized) {
        seen = `refused: ${String(socket.authorizationError)}`;
        socket.destroy();
        return;
      }
      const peer = socket.getPeerCertificate();
      seen = `CN=${String(peer.subject.CN)} SAN=${peer.subjectaltname ?? ''}`;
      socket.end('hello');
    },
  );
  listener.on('tlsClientError', (error: NodeJS.ErrnoException) => (seen = error.code ?? error.message));
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as { port: number };
  const outcome = await new Promise<string>((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ...(options.servername ? { servername: options.servername } : {}),
      key: client.key,
      cert: client.crt,
      ca: options.clientCa ?? pki.ca.crt,
      minVersion: 'TLSv1.3',
    });
    // TLS 1.3: the client's handshake ends before the server judged its certificate; only the
    // greeting proves the server accepted it.
    socket.once('data', () => (socket.destroy(), resolve('ok')));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    socket.once('close', () => resolve('closed'));
  });
  listener.close();
  return { client: outcome, server: seen };
}

t.test('certificates', async (t) => {
  const [server, client, expiredClient, expiredServer, foreignClient, foreignServer] = await Promise.all([
    pki.server({ dns: [SERVICE, 'tools'], ips: ['127.0.0.1', '10.0.0.1'] }),
    pki.client({ cn: 'build', san: ['DNS:build', `URI:${SPIFFE}`] }),
    pki.client({ cn: 'build', expired: true }),
    pki.server({ dns: [SERVICE], ips: ['127.0.0.1'], expired: true }),
    pki.client({ cn: 'build', issuer: 'other' }),
    pki.server({ dns: [SERVICE], ips: ['127.0.0.1'], issuer: 'other' }),
  ]);
  t.equal(await pki.client({ cn: 'build', san: ['DNS:build', `URI:${SPIFFE}`] }), client, 'issued once');
  t.equal((await makePki(join(dir, 'pki'))).ca, pki.ca, 'one PKI per directory');
  t.equal(statSync(client.keyFile).mode & 0o777, 0o600);

  t.same(await handshake(server, client), { client: 'ok', server: `CN=build SAN=DNS:build, URI:${SPIFFE}` });
  t.same((await handshake(server, client, { servername: SERVICE })).client, 'ok', 'the DNS name');
  t.same(
    (await handshake(server, client, { servername: 'elsewhere.example' })).client,
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'a name the certificate does not carry',
  );

  t.same(
    await handshake(server, expiredClient),
    { client: 'closed', server: 'ECONNRESET' },
    'expired client',
  );
  t.equal((await handshake(server, expiredClient, { reject: false })).server, 'refused: CERT_HAS_EXPIRED');
  t.equal((await handshake(expiredServer, client)).client, 'CERT_HAS_EXPIRED');

  t.same(await handshake(server, foreignClient), { client: 'closed', server: 'ECONNRESET' }, 'other CA');
  t.equal(
    (await handshake(server, foreignClient, { reject: false })).server,
    'refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  );
  t.equal(
    (await handshake(foreignServer, client)).client,
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'a server certificate of the other CA is refused',
  );
  t.equal(
    (await handshake(foreignServer, foreignClient, { serverCa: pki.other.crt, clientCa: pki.other.crt }))
      .client,
    'ok',
    'the other CA works with itself',
  );

  const usage = spawnSync(
    'openssl',
    ['x509', '-in', server.crtFile, '-noout', '-ext', 'extendedKeyUsage,keyUsage'],
    {
      encoding: 'utf8',
    },
  );
  t.match(usage.stdout, /TLS Web Server Authentication/);
  t.notMatch(usage.stdout, /Client/);
  const clientUsage = spawnSync(
    'openssl',
    ['x509', '-in', client.crtFile, '-noout', '-ext', 'extendedKeyUsage'],
    {
      encoding: 'utf8',
    },
  );
  t.match(clientUsage.stdout, /TLS Web Client Authentication/);
  t.match(
    spawnSync('openssl', ['x509', '-in', client.crtFile, '-noout', '-text'], { encoding: 'utf8' }).stdout,
    /prime256v1|P-256/,
  );
});

t.test('the Secret directory and its rotation', async (t) => {
  const [first, second] = await Promise.all([pki.server({ dns: ['a'] }), pki.server({ dns: ['b'] })]);
  const target = join(dir, 'secret');
  const written = writeSecretDir(target, secretFor(first));
  t.match(written.current, /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+$/);
  t.equal(readlinkSync(join(target, '..data')), written.current);
  for (const name of ['tls.crt', 'tls.key', 'ca.crt']) {
    t.ok(lstatSync(join(target, name)).isSymbolicLink(), `${name} is a link`);
    t.equal(readlinkSync(join(target, name)), `..data/${name}`);
  }
  t.same(readdirSync(target).sort(), ['..data', written.current, 'ca.crt', 'tls.crt', 'tls.key'].sort());
  t.equal(readFileSync(join(target, 'tls.crt'), 'utf8'), first.crt);
  t.equal(readFileSync(join(target, 'ca.crt'), 'utf8'), pki.ca.crt);
  t.equal(statSync(join(target, 'tls.key')).mode & 0o777, 0o600);
  t.equal(statSync(join(target, written.current)).mode & 0o777, 0o755);
  t.throws(() => writeSecretDir(target, secretFor(first)), /already holds/);

  const rotated = rotateSecretDir(target, secretFor(second));
  t.equal(rotated.previous, written.current);
  t.not(rotated.current, written.current);
  t.equal(readFileSync(join(target, 'tls.crt'), 'utf8'), second.crt);
  t.equal(readFileSync(join(target, 'tls.key'), 'utf8'), second.key);
  t.equal(readlinkSync(join(target, '..data')), rotated.current);
  t.notOk(existsSync(join(target, written.current)), 'the old payload is gone');
  t.same(readdirSync(target).sort(), ['..data', rotated.current, 'ca.crt', 'tls.crt', 'tls.key'].sort());
  t.throws(() => rotateSecretDir(join(dir, 'nothing'), secretFor(first)), /no Secret/);
});

t.test('nodes', { skip: nodesUnsupported() }, async (t) => {
  const nodes = await makeNodes(['tools', 'build'], { test: t, aliases: { tools: [SERVICE] } });
  const { tools, build } = nodes.byName;
  t.not(tools.address, build.address);
  const listed = () => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  t.match(listed(), tools.netns);

  const routes = await runIn(tools, ['ip', 'route', 'show', 'default']);
  t.equal(routes.out.trim(), '', 'no default route');
  const routes6 = await runIn(tools, ['ip', '-6', 'route', 'show', 'default']);
  t.equal(routes6.out.trim(), '', 'no default IPv6 route');
  // The kernel's answer alone, no socket: nothing outside has a route.
  t.match((await runIn(build, ['ip', 'route', 'get', '1.1.1.1'])).err, /unreachable/i);
  const outside = await runIn(build, ['ip', 'route', 'get', '10.255.255.1']);
  t.match(outside.err, /unreachable/i);
  // Only once the kernel said there is no route: connect() then fails before any packet exists.
  if (/unreachable/i.test(outside.err)) t.equal(await probe(build, '10.255.255.1', 80), 'ENETUNREACH');

  const port = 40_000 + (process.pid % 20_000);
  const server = spawnIn(
    tools,
    [
      process.execPath,
      '-e',
      `require('node:net').createServer((s) => s.on('error', () => {}).end('hello')).listen(${port}, '::')`,
    ],
    { stdio: 'ignore', env: { ...process.env, NODE_OPTIONS: '' } },
  );
  const exited = once(server, 'exit');
  await waitForPortIn(build, tools.address, port);
  t.equal(await probe(build, SERVICE, port), 'connected', 'the alias resolves to the node');
  t.equal(await probe(build, `${tools.address6}`, port), 'connected', 'IPv6 too');
  t.equal(await probe(tools, build.address, port), 'ECONNREFUSED', 'the other way: nothing listens');
  const fetched = await runIn(
    build,
    [
      process.execPath,
      '-e',
      `require('node:net').connect(${port}, 'tools').on('data', (d) => process.stdout.write(d))`,
    ],
    { env: { ...process.env, NODE_OPTIONS: '' } },
  );
  t.equal(fetched.out, 'hello', 'by its name');

  t.equal(server.exitCode, null, 'the server still serves');
  nodes.cleanup();
  t.same(await exited, [null, 'SIGKILL'], 'the cleanup killed it');
  t.notMatch(listed(), `k8r-${process.pid}-`, 'no namespace left');
  t.notOk(existsSync(`/etc/netns/${tools.netns}`));
});

t.test('a workspace at two paths', { skip: nodesUnsupported() }, async (t) => {
  const source = join(dir, 'volume');
  mkdirSync(source);
  const pods = join(dir, 'pods');
  const binding = bindWorkspace(source, [join(pods, 'a/workspace'), join(pods, 'b/src/project')], {
    test: t,
  });
  const [a, b] = binding.paths as [string, string];
  writeFileSync(join(a, 'written-in-a'), 'same volume');
  t.equal(readFileSync(join(b, 'written-in-a'), 'utf8'), 'same volume');
  t.not(realpathSync(a), realpathSync(b), 'two realpaths, one directory');
  const nodes = await makeNodes(['pod'], { test: t });
  t.equal(
    (await runIn(nodes.byName.pod, ['cat', join(b, 'written-in-a')])).out,
    'same volume',
    'seen in a node',
  );
  binding.cleanup();
  t.notMatch(readFileSync('/proc/self/mountinfo', 'utf8'), pods, 'unmounted');
  t.notOk(existsSync(pods), 'the mount points made for it are gone');
  t.ok(existsSync(join(source, 'written-in-a')), 'the volume itself stays');
});
