/** What a new user reads first: both help screens, and the error when no configuration is found. */
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BIN, cleanup, DAEMON, run, SKIP_UNBUILT, tempDir } from './harness.js';

const widest = (text: string): number => Math.max(...text.split('\n').map((line) => line.length));

t.test('both help screens: the same width, the defaults said', { skip: SKIP_UNBUILT }, async (t) => {
  const client = await run(BIN, ['--help']);
  const server = await run(DAEMON, ['--help']);
  t.equal(client.code, 0);
  t.equal(server.code, 0);
  // Not a terminal: both wrap at 100 columns (yargs' default for k8pshd was 80).
  for (const [name, help] of [
    ['k8psh', client.out],
    ['k8pshd', server.out],
  ] as const) {
    t.ok(widest(help) <= 100 && widest(help) > 80, `${name} --help is ${widest(help)} columns wide`);
  }
  const flat = server.out.replace(/\s+/g, ' ');
  t.match(flat, 'Defaults to $K8PSH_CONFIG, else ./k8psh.conf.', '--config names ./k8psh.conf');
  t.match(flat, 'Defaults to /run/k8pshd.pid.', '--pidfile names its default');
  t.match(flat, '0: create the stubs and exit; negative: no limit', '--max-connections says its edges');
});

t.test('no configuration found: a hint on how to name one', { skip: SKIP_UNBUILT }, async (t) => {
  const dir = tempDir();
  t.teardown(() => cleanup(dir));
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.K8PSH_CONFIG;
  const missing = 'cannot read configuration file k8psh.conf: ENOENT: no such file or directory';
  const server = await run(DAEMON, [], { env, cwd: dir });
  t.equal(server.code, 1);
  t.equal(
    server.err,
    `k8pshd: ${missing} (name the configuration file with --config FILE or $K8PSH_CONFIG)\n`,
  );
  const frontend = await run(BIN, ['gcc'], { env, cwd: dir });
  t.equal(frontend.code, 1);
  t.equal(
    frontend.err,
    `k8psh: ${missing} (name the configuration file with --config FILE or $K8PSH_CONFIG)\n`,
  );
  symlinkSync(BIN, join(dir, 'gcc'));
  const stub = await run(join(dir, 'gcc'), ['--config', 'x'], { env, cwd: dir });
  t.equal(stub.code, 1);
  t.equal(
    stub.err,
    `k8psh: ${missing} (name the configuration file with $K8PSH_CONFIG)\n`,
    'a stub takes no options',
  );
  const named = await run(DAEMON, ['--config', 'other.conf'], { env, cwd: dir });
  t.equal(
    named.err,
    'k8pshd: cannot read configuration file other.conf: ENOENT: no such file or directory\n',
    'a file the user named: no hint needed',
  );
});
