/**
 * The lazy bundles of the executable split what a call does not need: the server's bundle holds no
 * client code, the front end's no server code, and yargs (which both parse with) is bundled once.
 * Read from esbuild's metafiles of a `--bundle-only` build.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = t.testdir();
const build = spawnSync(process.execPath, ['scripts/build.mjs', '--quiet', '--bundle-only', '--out', out], {
  cwd: root,
  encoding: 'utf8',
  timeout: 120_000,
});

function inputs(bundle: string): string[] {
  const file = path.join(out, '.build', bundle === 'main' ? 'meta.json' : `meta-${bundle}.json`);
  return Object.keys((JSON.parse(fs.readFileSync(file, 'utf8')) as { inputs: object }).inputs);
}

t.test('the build succeeds', async (t) => {
  t.equal(build.status, 0, build.stderr);
});

t.test('the server and the front end are bundled apart', async (t) => {
  t.same(
    inputs('server').filter((input) => input.startsWith('src/client/')),
    [],
    'no client module in the server bundle',
  );
  t.same(
    inputs('frontend').filter((input) => input.startsWith('src/server/')),
    [],
    'no server module in the front-end bundle',
  );
  t.ok(inputs('server').includes('src/server/main.ts'));
  t.ok(inputs('frontend').includes('src/client/frontend.ts'));
});

t.test('yargs is in its own bundle only', async (t) => {
  const isYargs = (input: string) => /node_modules\/yargs(-parser)?\//.test(input);
  for (const bundle of ['main', 'server', 'frontend', 'toml'])
    t.same(inputs(bundle).filter(isYargs), [], `${bundle} carries no yargs`);
  t.ok(inputs('yargs').some(isYargs));
  t.ok(inputs('server').includes('k8psh-lazy:yargs'), 'the server loads it');
  t.ok(inputs('frontend').includes('k8psh-lazy:yargs'), 'the front end loads it');
});

t.test(
  "the native stubs' table writer is a lazy bundle: a stub call that writes none compiles none",
  async (t) => {
    const writer = [
      'src/client/refresh-stub-table.ts',
      'src/client/stub-table.ts',
      'src/config/env-recorder.ts',
    ];
    t.same(
      inputs('main').filter((input) => writer.includes(input)),
      [],
      'not in the main bundle',
    );
    for (const input of writer) t.ok(inputs('stub-table').includes(input), input);
    t.ok(inputs('main').includes('k8psh-lazy:stub-table'), 'the stub path loads it');
  },
);

t.test(
  'prom-client and the metrics are a lazy bundle: a server without --metrics compiles none',
  async (t) => {
    const isPromClient = (input: string) => /node_modules\/prom-client\//.test(input);
    for (const bundle of ['main', 'server', 'frontend'])
      t.same(inputs(bundle).filter(isPromClient), [], `${bundle} carries no prom-client`);
    t.ok(inputs('metrics').some(isPromClient), 'the metrics bundle does');
    t.ok(inputs('metrics').includes('src/server/metrics.ts'));
    t.ok(inputs('server').includes('k8psh-lazy:metrics'), 'the server loads it when asked');
  },
);
