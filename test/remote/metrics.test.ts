/**
 * `--metrics` on a server with mutual TLS (docs/observability.md): sessions through the gateway
 * count as `tls`, a plaintext client as a `plaintext` refusal, a failed handshake as a TLS failure.
 * Read from inside the tools node, where the metrics listen on its loopback.
 */
import { join } from 'node:path';
import t from 'tap';
import { SKIP_UNBUILT } from '../e2e/harness.js';
import { makeCluster, nodeEnv } from './cluster.js';
import { nodesUnsupported, runIn } from './nodes.js';

const METRICS_PORT = 9464;

t.test(
  'TLS sessions, plaintext refusals and handshake failures are counted',
  { skip: SKIP_UNBUILT || nodesUnsupported() },
  async (t) => {
    const cluster = await makeCluster(t, { commands: 'printf\n' });
    await cluster.server.stop();
    await cluster.startServer(['--metrics', `127.0.0.1:${METRICS_PORT}`]);
    await cluster.gateway!.waitFor(/connected to the server[\s\S]*connected to the server/);

    t.equal((await cluster.stub('printf', ['%s', 'ok'])).out, 'ok');
    const plain = await runIn(
      cluster.build,
      [
        process.execPath,
        '-e',
        `const s=require('net').connect(${cluster.port},'${cluster.tools.address}',()=>s.write(Buffer.from([0x40,10,0,0,0])));s.on('data',()=>{});s.on('close',()=>{})`,
      ],
      { env: nodeEnv(), timeoutMs: 15000 },
    );
    t.equal(plain.code, 0, 'a plaintext client was answered');
    await runIn(
      cluster.build,
      [
        'openssl',
        's_client',
        '-connect',
        `${cluster.tools.address}:${cluster.port}`,
        '-tls1_2',
        '-CAfile',
        join(cluster.clientTls, 'ca.crt'),
      ],
      { input: '', timeoutMs: 15000 },
    );

    const scrape = await runIn(
      cluster.tools,
      [
        process.execPath,
        '-e',
        `fetch('http://127.0.0.1:${METRICS_PORT}/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))`,
      ],
      { env: nodeEnv(), timeoutMs: 15000 },
    );
    const value = (series: string): number => {
      const line = scrape.out.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? 0 : Number(line.slice(series.length + 1));
    };
    t.equal(value('k8psh_sessions_started_total{transport="tls"}'), 1, 'the gateway’s session is a tls one');
    t.equal(value('k8psh_sessions_finished_total{outcome="exited"}'), 1);
    t.equal(value('k8psh_refusals_total{reason="plaintext"}'), 1, 'the plaintext client');
    t.ok(value('k8psh_tls_failures_total{reason="handshake"}') >= 1, 'the TLS 1.2 handshake');
  },
);
