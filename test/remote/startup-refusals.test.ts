/**
 * A server that would listen beyond loopback without its TLS material does not start (issue 24):
 * exit 1 and one line naming what is missing, before anything is made; a loopback address stays the
 * plain local protocol and needs none. A section with `--remote` but no `--tls` is a configuration
 * error for the server and for a stub alike (no plaintext across the network).
 */
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { BIN, cleanup, DAEMON, freePorts, SKIP_UNBUILT, tempDir, writeFile } from '../e2e/harness.js';
import { makePki, secretFor } from './certs.js';
import { nodeEnv } from './cluster.js';
import { makeNodes, nodesUnsupported, runIn } from './nodes.js';
import { lines } from './processes.js';
import { writeSecretDir } from './secret-dir.js';

const skip = SKIP_UNBUILT || nodesUnsupported();

t.test('start-up refusals', { skip }, async (t) => {
  const dir = tempDir('k8psh-remote-startup-');
  t.teardown(() => cleanup(dir));
  const { byName } = await makeNodes(['tools'] as const, { test: t });
  const tools = byName.tools;
  const [port] = (await freePorts(1)) as [number];
  const pki = await makePki(join(dir, 'pki'));
  const tls = join(dir, 'tls');
  writeSecretDir(tls, secretFor(await pki.server({ dns: ['tools.test'], ips: [tools.address] })));
  const bin = join(dir, 'bin');
  mkdirSync(bin);

  /** k8pshd serving `tools` with `section` after its `]`, `args` on its command line; runs to its end. */
  const k8pshd = async (section: string, args: string[] = [], name = 'k8psh.conf') => {
    const config = writeFile(join(dir, name), `[ tools:${port} ] ${section}\nsh\n`);
    return runIn(tools, [DAEMON, '--name', 'tools', '-c', config, '-e', bin, '-o', ...args], {
      cwd: dir,
      env: nodeEnv(),
      timeoutMs: 15000,
    });
  };
  const refused = (t: Test, r: Awaited<ReturnType<typeof k8pshd>>, pattern: RegExp): void => {
    t.equal(r.code, 1, 'exit 1');
    t.equal(lines(r.err).length, 1, 'one line', { stderr: r.err });
    t.match(r.err, pattern);
    t.same(readdirSync(bin), [], 'no stub was made (or it was removed)');
  };
  const at = `${tools.address}:${port}`.replace(/\./g, '\\.');

  await t.test('--listen beyond loopback without --tls, on the section', async (t) => {
    const r = await k8pshd(`--listen ${tools.address}`);
    refused(t, r, new RegExp(`--listen ${at} is not a loopback address: it needs --tls DIR`));
  });

  await t.test('--listen beyond loopback without --tls, on the command line', async (t) => {
    const r = await k8pshd('', ['--listen', `127.0.0.1,${tools.address}:${port}`]);
    refused(t, r, new RegExp(`--listen ${at} is not a loopback address: it needs --tls DIR`));
  });

  await t.test('an IPv6 node address needs it as well', async (t) => {
    const r = await k8pshd(`--listen [${tools.address6}]:${port}`);
    refused(t, r, /--listen \[fd6b:[0-9a-f:]+\]:\d+ is not a loopback address: it needs --tls DIR/);
  });

  await t.test('loopback needs no TLS material', async (t) => {
    const r = await k8pshd('--listen 127.0.0.1 --listen [::1]', ['--timeout', '300']);
    t.equal(r.code, 0, 'served, then stopped at its --timeout', { stderr: r.err });
    rmSync(join(bin, 'sh'), { force: true });
  });

  await t.test('--tls DIR without one of its files', async (t) => {
    for (const file of ['tls.crt', 'tls.key', 'ca.crt']) {
      const partial = join(dir, `tls-without-${file}`);
      writeSecretDir(partial, secretFor(await pki.server({ dns: ['tools.test'], ips: [tools.address] })));
      rmSync(join(partial, '..data', file));
      const r = await k8pshd(`--listen ${tools.address} --tls ${partial}`);
      refused(
        t,
        r,
        new RegExp(`TLS material ${join(partial, file).replace(/\./g, '\\.')} cannot be read \\(ENOENT\\)`),
      );
    }
    const r = await k8pshd(`--listen ${tools.address} --tls ${join(dir, 'nowhere')}`);
    refused(t, r, /TLS material .*\/nowhere\/tls\.crt cannot be read \(ENOENT\)/);
  });

  await t.test('and with its material it starts', async (t) => {
    const r = await k8pshd(`--listen ${tools.address} --tls ${tls}`, ['--timeout', '300']);
    t.equal(r.code, 0, { stderr: r.err });
    rmSync(join(bin, 'sh'), { force: true });
  });

  await t.test('a section with --remote and no --tls: a configuration error', async (t) => {
    const r = await k8pshd('--remote tools.test', [], 'no-tls.conf');
    refused(
      t,
      r,
      /no-tls\.conf:1:\d+: --remote needs --tls DIR \(a remote server is reached only over mutual TLS\)/,
    );
    // A stub reading it exits as for any other configuration error.
    symlinkSync(BIN, join(bin, 'sh'));
    const stub = (config: string) =>
      runIn(tools, [join(bin, 'sh'), '-c', 'echo ran > ran'], {
        cwd: dir,
        env: nodeEnv({ K8PSH_CONFIG: join(dir, config) }),
        timeoutMs: 15000,
      });
    writeFile(join(dir, 'malformed.conf'), 'baseDirectory = "unterminated\n');
    const malformed = await stub('malformed.conf');
    const noTls = await stub('no-tls.conf');
    t.equal(
      noTls.code,
      malformed.code,
      `the same exit code (${malformed.code}) as a malformed configuration`,
    );
    t.equal(noTls.code, 1);
    t.same(lines(noTls.err), [
      `k8psh: ${join(dir, 'no-tls.conf')}:1:${/:1:(\d+):/.exec(r.err)?.[1]}: --remote needs --tls DIR (a remote server is reached only over mutual TLS)`,
    ]);
    t.notOk(existsSync(join(dir, 'ran')), 'nothing ran');
  });
});
