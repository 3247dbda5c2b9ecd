/**
 * Build smoke test, independent of src/main.ts: `scripts/build.mjs --entry` builds the probe
 * (scripts/fixtures/probe-main.ts) into a temporary directory; inside that single executable yargs,
 * pino with pino-pretty as a synchronous stream, toml and node-pty must all work.
 */
import { spawnSync } from 'node:child_process';
import type { SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };

function show(result: SpawnSyncReturns<string>): string {
  return `status ${result.status} signal ${result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
}

const out = t.testdir();
const build = spawnSync(
  process.execPath,
  [
    'scripts/build.mjs',
    '--quiet',
    '--entry',
    'scripts/fixtures/probe-main.ts',
    '--out',
    out,
    '--name',
    'probe',
  ],
  { cwd: root, encoding: 'utf8', timeout: 120_000 },
);
const probe = path.join(out, 'probe');

t.test('scripts/build.mjs --entry --out --name builds the probe quietly', async (t) => {
  t.equal(build.status, 0, show(build));
  t.equal(build.stdout, '', 'nothing on stdout with --quiet');
  t.equal(build.stderr, '', 'no postject .note warning, no SEA chatter');
  t.ok(fs.statSync(probe).mode & 0o100, 'executable');
  t.equal(fs.readlinkSync(path.join(out, 'k8pshd')), 'probe');
});

const run = (args: string[], env: NodeJS.ProcessEnv) =>
  spawnSync(probe, args, { env, cwd: out, encoding: 'utf8', timeout: 30_000 });

t.test(
  'yargs, pino + pino-pretty (sync), toml work in the binary; node-pty is not loaded at start',
  async (t) => {
    const result = run(['deps'], { PATH: '/nonexistent' });
    t.equal(result.status, 0, show(result));
    t.same(JSON.parse(result.stdout), {
      yargs: { name: 'probe', rest: ['rest', '--x'] },
      pino: true,
      toml: 1120,
      ptyLoadedAtStart: false,
    });
  },
);

t.test('version is defined at build time: package version (git describe)', async (t) => {
  const result = run(['version'], { PATH: '/nonexistent' });
  t.equal(result.status, 0, show(result));
  const git = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: root, encoding: 'utf8' });
  const expected = git.status === 0 ? `${pkg.version} (${git.stdout.trim()})` : pkg.version;
  t.equal(result.stdout.trim(), expected);
});

t.test(
  'node-pty from the runtime directory beside the binary: spawn in a pty, nothing written',
  async (t) => {
    const home = t.testdir();
    const first = run(['pty'], { PATH: '/nonexistent', HOME: home });
    t.equal(first.status, 0, show(first));
    t.match(first.stdout, /^pty-ok$/m);
    t.match(first.stdout, /\/\.k8psh-runtime-[0-9a-f]{16}\/pty\.node \(runtime\)$/m);
    const info = run(['pty-info'], { PATH: '/nonexistent', HOME: home });
    t.equal(info.status, 0, show(info));
    t.match(JSON.parse(info.stdout), { source: 'runtime', path: new RegExp(`^${out}/\\.k8psh-runtime-`) });
    t.same(fs.readdirSync(home), [], 'no cache written');
  },
);
