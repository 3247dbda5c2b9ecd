/**
 * Who a TLS client is (issue 24): its certificate's subject CN and subjectAltName, on every log line
 * of its sessions with its address, and `--allow-identity` serving only the names listed: by CN, by
 * SAN with or without its `DNS:` prefix, comma-separated or repeated, the real command line's list
 * replacing the section's. A client not served is told so in one line (exit 1) and nothing runs.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { SKIP_UNBUILT, writeFile } from '../e2e/harness.js';
import { makeCluster, makeStubs, type Cluster } from './cluster.js';
import { nodesUnsupported } from './nodes.js';
import { count, lines, logLines, waitForMore } from './processes.js';

const skip = SKIP_UNBUILT || nodesUnsupported();
const IDENTITY = 'CN=build, DNS:build.ci';
const REFUSED = `k8psh: server tools does not serve the identity ${IDENTITY} (--allow-identity)`;
const CONNECTED = /"msg":"connected to the server"/;

/** Restarts the server with `allow` on its section line and `commandLine` after, and waits for the gateway. */
async function serve(cluster: Cluster, allow: string, commandLine: string[] = []): Promise<void> {
  const config = writeFile(
    join(cluster.buildWorkspace, `allow-${Math.random().toString(36).slice(2)}.conf`),
    `[ tools:${cluster.port} ] --listen ${cluster.tools.address} --tls \${TLS_DIR} --remote tools.test ${allow}\nsh\n`,
  );
  const connected = cluster.gateway ? count(cluster.gateway, CONNECTED) : 0;
  await cluster.server.stop();
  await cluster.startServer([
    '-c',
    join(cluster.toolsWorkspace, config.slice(cluster.buildWorkspace.length)),
    ...commandLine,
  ]);
  if (cluster.gateway && cluster.gateway.process.exitCode === null)
    await waitForMore(cluster.gateway, CONNECTED, connected);
}

/** The stub runs `sh`, which leaves a mark in the workspace. */
async function call(cluster: Cluster) {
  const mark = join(cluster.buildWorkspace, 'ran');
  rmSync(mark, { force: true });
  const r = await cluster.stub('sh', ['-c', 'echo > ran; echo served']);
  return { ...r, ran: existsSync(mark) };
}

const SERVED: [string, string, string[]?][] = [
  ['no --allow-identity: any certificate of the CA', ''],
  ['by CN', '--allow-identity build'],
  ['by SAN with its prefix', '--allow-identity DNS:build.ci'],
  ['by SAN without it', '--allow-identity build.ci'],
  ['comma-separated', '--allow-identity other,DNS:build.ci'],
  ['repeated', '--allow-identity other --allow-identity build'],
  ['--allow-identity=', '--allow-identity=build'],
  ['the command line replaces the section', '--allow-identity other', ['--allow-identity', 'build']],
];

const REFUSALS: [string, string, string[]?][] = [
  ['another name', '--allow-identity other'],
  ['a prefix of another type', '--allow-identity URI:build.ci'],
  ['CN= is not a name', '--allow-identity CN=build'],
  [
    'the command line replaces the section',
    '--allow-identity build',
    ['--allow-identity', 'other,also-other'],
  ],
];

t.test('--allow-identity, through the gateway and without one', { skip }, async (t) => {
  const cluster = await makeCluster(t, { commands: 'sh\n' });
  for (const mode of ['through the gateway', 'without a gateway'] as const) {
    if (mode === 'without a gateway') {
      await cluster.gateway!.stop();
      await makeStubs(cluster);
    }
    for (const [name, allow, commandLine] of SERVED)
      await t.test(`${mode}: served, ${name}`, async (t) => {
        await serve(cluster, allow, commandLine);
        const r = await call(cluster);
        t.same([r.code, r.out, r.err, r.ran], [0, 'served\n', '', true]);
      });
    for (const [name, allow, commandLine] of REFUSALS)
      await t.test(`${mode}: refused, ${name}`, async (t) => {
        await serve(cluster, allow, commandLine);
        const r = await call(cluster);
        t.equal(r.code, 1, 'exit 1');
        t.same(lines(r.err), [REFUSED], 'one line');
        t.equal(r.out, '');
        t.notOk(r.ran, 'the command did not run');
        const [refusal] = logLines(cluster.server, /^identity not allowed$/);
        t.equal(refusal?.identity, IDENTITY, 'the server logs the identity it refused');
        t.match(String(refusal?.peer), new RegExp(`^${cluster.build.address.replace(/\./g, '\\.')}:\\d+$`));
      });
  }
});

t.test('every log line of a TLS session says who and from where', { skip }, async (t) => {
  const cluster = await makeCluster(t, { commands: 'sh\n' });
  const connected = count(cluster.gateway!, CONNECTED);
  await cluster.server.stop();
  // Debug level: every line a session may write.
  await cluster.startServer([], { K8PSH_DEBUG: 'all' });
  await waitForMore(cluster.gateway!, CONNECTED, connected);
  const r = await cluster.stub('sh', ['-c', 'echo one; exit 3']);
  t.same([r.code, r.out, r.err], [3, 'one\n', '']);
  const peer = new RegExp(`^${cluster.build.address.replace(/\./g, '\\.')}:\\d+$`);
  const session = logLines(cluster.server, /./).filter((line) => line.component === 'Process');
  t.same(
    session.map((line) => line.msg),
    ['client hello', 'remote session', 'starting', 'command ended'],
    'the session logged',
  );
  for (const line of session) {
    t.equal(line.identity, IDENTITY, `${String(line.msg)}: identity`);
    t.match(String(line.peer), peer, `${String(line.msg)}: peer`);
  }
  t.equal(new Set(session.map((line) => line.peer)).size, 1, 'one peer: the gateway’s one connection');
});
