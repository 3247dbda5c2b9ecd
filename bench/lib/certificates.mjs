/**
 * Certificates for the simulated nodes, made by openssl into Secret-shaped directories: a
 * throwaway CA (its key deleted once both are signed), a server certificate and a client one.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Why openssl cannot make them here, or false. */
export function opensslUnsupported() {
  const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8', timeout: 10_000 });
  return openssl.error || openssl.status !== 0 ? 'openssl is not usable (apt-get install openssl)' : false;
}

/**
 * In `pki` (scratch), a CA; `server` and `client` ({ dir, cn, san }: the Secret directory, the
 * subject CN, the subjectAltName value) each get a kubernetes.io/tls layout signed by it.
 */
export function makeCertificates(pki, server, client) {
  mkdirSync(pki, { recursive: true });
  const file = (name) => join(pki, name);
  const openssl = (...args) => {
    const result = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30_000 });
    if (result.status !== 0)
      throw new Error(`openssl ${args[0]} failed: ${result.stderr || result.error?.message}`);
  };
  const newKey = (key) => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc', '-keyout', key];
  openssl(
    'req',
    '-x509',
    '-new',
    ...newKey(file('ca.key')),
    '-subj',
    '/CN=k8psh bench CA',
    '-days',
    '2',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    file('ca.crt'),
  );
  const leaf = (name, cn, usage, san) => {
    writeFileSync(
      file(`${name}.ext`),
      [
        '[leaf]',
        'basicConstraints = critical, CA:FALSE',
        'keyUsage = critical, digitalSignature',
        `extendedKeyUsage = ${usage}`,
        `subjectAltName = ${san}`,
        '',
      ].join('\n'),
    );
    openssl('req', '-new', ...newKey(file(`${name}.key`)), '-subj', `/CN=${cn}`, '-out', file(`${name}.csr`));
    openssl(
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      '2',
      '-extfile',
      file(`${name}.ext`),
      '-extensions',
      'leaf',
      '-out',
      file(`${name}.crt`),
    );
  };
  leaf('server', server.cn, 'serverAuth', server.san);
  leaf('client', client.cn, 'clientAuth', client.san);
  const ca = readFileSync(file('ca.crt'));
  secretDir(server.dir, readFileSync(file('server.crt')), readFileSync(file('server.key')), ca);
  secretDir(client.dir, readFileSync(file('client.crt')), readFileSync(file('client.key')), ca);
  rmSync(file('ca.key'));
}

/** A mounted kubernetes.io/tls Secret as the kubelet lays it out: the files behind `..data`. */
function secretDir(target, crt, key, ca) {
  const payload = join(target, '..bench');
  mkdirSync(payload, { recursive: true });
  writeFileSync(join(payload, 'tls.crt'), crt);
  writeFileSync(join(payload, 'tls.key'), key, { mode: 0o600 });
  writeFileSync(join(payload, 'ca.crt'), ca);
  symlinkSync('..bench', join(target, '..data'));
  for (const name of ['tls.crt', 'tls.key', 'ca.crt']) symlinkSync(join('..data', name), join(target, name));
}
