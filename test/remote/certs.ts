/**
 * A throwaway PKI for the remote tests, made by Debian's openssl while the test runs, so that no
 * key is ever committed: a CA, an unrelated CA "other" (whatever it signs must be refused), and
 * leaf certificates issued by either. P-256 keys, cert-manager's ECDSA choice.
 *
 * Leaves are signed by `openssl ca`, not `openssl x509 -req`: openssl 3.0's x509 cannot set
 * notBefore/notAfter, and an expired certificate needs both in the past. `ca` keeps a database
 * (index.txt), so the signings of one authority are serialised; 3.0's `ca` also wants a `serial`
 * file named in its configuration even with -rand_serial.
 *
 * makePki(dir) is memoised per directory and each leaf per options: a test file asks for what it
 * needs where it needs it, and the keys are made once.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type AuthorityName = 'ca' | 'other';

export interface Authority {
  name: AuthorityName;
  /** PEM: what a peer that trusts this authority has as ca.crt. */
  crt: string;
  crtFile: string;
  keyFile: string;
}

export interface Leaf {
  /** PEM certificate and PEM (PKCS#8) key. */
  crt: string;
  key: string;
  crtFile: string;
  keyFile: string;
  issuer: Authority;
}

export interface LeafOptions {
  /** Default 'ca'. */
  issuer?: AuthorityName;
  /** Valid from 2020-01-01 to 2020-01-02 only. */
  expired?: boolean;
  /** Explicit validity (both or neither); default: from now for 30 days. */
  notBefore?: Date;
  notAfter?: Date;
}

export interface ServerOptions extends LeafOptions {
  /** subjectAltName DNS names and IP addresses (what a client's server-name check compares). */
  dns?: string[];
  ips?: string[];
  /** Subject CN; default the first DNS name (else the first IP). */
  cn?: string;
}

export interface ClientOptions extends LeafOptions {
  cn: string;
  /** subjectAltName entries with their type: 'DNS:build', 'URI:spiffe://…', 'email:…'. */
  san?: string[];
}

export interface Pki {
  dir: string;
  ca: Authority;
  other: Authority;
  /** extendedKeyUsage serverAuth. */
  server(options: ServerOptions): Promise<Leaf>;
  /** extendedKeyUsage clientAuth. */
  client(options: ClientOptions): Promise<Leaf>;
}

/** The three files of a kubernetes.io/tls Secret (see secret-dir.ts), as PEM text. */
export interface TlsFiles {
  crt: string;
  key: string;
  ca: string;
}

/** A leaf with the CA its peer must chain to (default: its own issuer), as a Secret holds them. */
export function secretFor(leaf: Leaf, ca: Authority = leaf.issuer): TlsFiles {
  return { crt: leaf.crt, key: leaf.key, ca: ca.crt };
}

const made = new Map<string, Promise<Pki>>();

export function makePki(dir: string): Promise<Pki> {
  const key = resolve(dir);
  let pki = made.get(key);
  if (!pki) {
    pki = createPki(key);
    made.set(key, pki);
    // A failure must not be remembered: the next caller tries again and sees the error itself.
    pki.catch(() => made.delete(key));
  }
  return pki;
}

async function createPki(dir: string): Promise<Pki> {
  const [ca, other] = await Promise.all([
    createAuthority(dir, 'ca', 'k8psh test CA'),
    createAuthority(dir, 'other', 'unrelated test CA'),
  ]);
  const authorities = { ca, other };
  const leaves = new Map<string, Promise<Leaf>>();
  let queue: Promise<unknown> = Promise.resolve();
  let count = 0;
  const issue = (
    kind: 'server' | 'client',
    options: LeafOptions,
    cn: string,
    sans: string[],
  ): Promise<Leaf> => {
    const memo = JSON.stringify([kind, options]);
    let leaf = leaves.get(memo);
    if (!leaf) {
      const base = join(dir, 'leaves', `${kind}-${count++}`);
      const authority = authorities[options.issuer ?? 'ca'];
      leaf = queue.then(() => signLeaf(authority, base, kind, options, cn, sans));
      queue = leaf.catch(() => {});
      leaves.set(memo, leaf);
    }
    return leaf;
  };
  return {
    dir,
    ca,
    other,
    server(options) {
      const dns = options.dns ?? [];
      const ips = options.ips ?? [];
      const cn = options.cn ?? dns[0] ?? ips[0];
      if (cn === undefined) throw new Error('a server certificate needs a DNS name, an IP or a CN');
      return issue('server', options, cn, [...dns.map((d) => `DNS:${d}`), ...ips.map((ip) => `IP:${ip}`)]);
    },
    client(options) {
      return issue('client', options, options.cn, options.san ?? []);
    },
  };
}

async function createAuthority(dir: string, name: AuthorityName, cn: string): Promise<Authority> {
  const home = join(dir, name);
  mkdirSync(join(home, 'newcerts'), { recursive: true });
  writeFileSync(join(home, 'index.txt'), '');
  const crtFile = join(home, 'ca.crt');
  const keyFile = join(home, 'ca.key');
  const config = join(home, 'openssl.cnf');
  writeFileSync(
    config,
    [
      '[req]',
      'distinguished_name = dn',
      '[dn]',
      '[authority_extensions]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      '[ca]',
      'default_ca = authority',
      '[authority]',
      `database = ${join(home, 'index.txt')}`,
      `new_certs_dir = ${join(home, 'newcerts')}`,
      `serial = ${join(home, 'serial')}`,
      `certificate = ${crtFile}`,
      `private_key = ${keyFile}`,
      'default_md = sha256',
      'policy = any',
      'unique_subject = no',
      'copy_extensions = none',
      '[any]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  await openssl(
    ['req', '-x509', '-new', ...newKey(keyFile), '-subj', subject(cn), '-days', '30', '-out', crtFile],
    ['-config', config, '-extensions', 'authority_extensions'],
  );
  return { name, crt: readFileSync(crtFile, 'utf8'), crtFile, keyFile };
}

async function signLeaf(
  authority: Authority,
  base: string,
  kind: 'server' | 'client',
  options: LeafOptions,
  cn: string,
  sans: string[],
): Promise<Leaf> {
  for (const san of sans)
    if (!/^(DNS|IP|URI|email):[^,\s]+$/.test(san)) throw new Error(`not a subjectAltName entry: ${san}`);
  mkdirSync(join(base, '..'), { recursive: true });
  const config = join(authority.crtFile, '../openssl.cnf');
  const [crtFile, keyFile, csr, ext] = ['.crt', '.key', '.csr', '.ext'].map((suffix) => base + suffix) as [
    string,
    string,
    string,
    string,
  ];
  writeFileSync(
    ext,
    [
      '[leaf]',
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature',
      `extendedKeyUsage = ${kind === 'server' ? 'serverAuth' : 'clientAuth'}`,
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      ...(sans.length > 0 ? [`subjectAltName = ${sans.join(', ')}`] : []),
      '',
    ].join('\n'),
  );
  await openssl(['req', '-new', ...newKey(keyFile), '-subj', subject(cn), '-out', csr], ['-config', config]);
  await openssl(
    [
      'ca',
      '-batch',
      '-notext',
      '-rand_serial',
      '-preserveDN',
      '-in',
      csr,
      '-out',
      crtFile,
      ...validity(options),
    ],
    ['-config', config, '-extfile', ext, '-extensions', 'leaf'],
  );
  return {
    crt: readFileSync(crtFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
    crtFile,
    keyFile,
    issuer: authority,
  };
}

/** A new P-256 key, unencrypted; openssl writes it mode 0600. */
function newKey(keyFile: string): string[] {
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc', '-keyout', keyFile];
}

/** -subj syntax: '/' and '+' would start a new attribute, so they are escaped. */
function subject(cn: string): string {
  return `/CN=${cn.replace(/[\\/+=]/g, (c) => `\\${c}`)}`;
}

function validity(options: LeafOptions): string[] {
  const when = (date: Date): string => `${date.toISOString().replace(/[-:T]|\.\d+/g, '')}`;
  if (options.expired) return ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z'];
  if (options.notBefore && options.notAfter)
    return ['-startdate', when(options.notBefore), '-enddate', when(options.notAfter)];
  if (options.notBefore || options.notAfter) throw new Error('notBefore and notAfter go together');
  return ['-days', '30'];
}

async function openssl(args: string[], config: string[]): Promise<void> {
  try {
    await run('openssl', [...args, ...config], { timeout: 30_000 });
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`openssl ${args[0]} failed: ${stderr || (error as Error).message}`, { cause: error });
  }
}
