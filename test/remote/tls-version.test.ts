/**
 * TLS 1.3 only, client certificate required (docs/remote.md): with Debian's openssl from the build
 * node, a TLS 1.3 handshake with the client's certificate completes, a TLS 1.2 one is refused, and
 * one without a certificate never gets a stream (the server's GOAWAY says why).
 */
import t from 'tap';
import { join } from 'node:path';
import { SKIP_UNBUILT } from '../e2e/harness.js';
import { makeCluster } from './cluster.js';
import { nodesUnsupported, runIn } from './nodes.js';

t.test(
  'only TLS 1.3, only with a client certificate',
  { skip: SKIP_UNBUILT || nodesUnsupported() },
  async (t) => {
    const cluster = await makeCluster(t, { commands: 'printf\n', gateway: false });
    const at = `${cluster.tools.address}:${cluster.port}`;
    const tls = (name: string): string => join(cluster.clientTls, name);
    const handshake = (...options: string[]) =>
      runIn(
        cluster.build,
        [
          'openssl',
          's_client',
          '-connect',
          at,
          '-CAfile',
          tls('ca.crt'),
          '-alpn',
          'h2',
          '-brief',
          ...options,
        ],
        { input: '', timeoutMs: 15000 },
      );
    const modern = await handshake('-tls1_3', '-cert', tls('tls.crt'), '-key', tls('tls.key'));
    t.match(modern.err, /Protocol version: TLSv1\.3/, 'TLS 1.3 with a client certificate: handshake done');
    const old = await handshake('-tls1_2', '-cert', tls('tls.crt'), '-key', tls('tls.key'));
    t.not(old.code, 0, 'TLS 1.2: refused');
    t.notMatch(old.err, /Protocol version: TLSv1\.2/, 'no TLS 1.2 session');
    await cluster.server.waitFor(/"msg":"TLS handshake refused"/);
  },
);
