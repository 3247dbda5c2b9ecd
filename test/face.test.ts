/** src/face.ts: the one decision between server, front end, stub, `-s`, `--health` and the quick version. */
import t from 'tap';
import { chooseFace, firstCommandIndex, invokedName, isHealthCall } from '../src/face.js';

t.test('the invoked name decides, the script suffix dropped', async (t) => {
  t.equal(invokedName(['node', '/x/k8pshd']), 'k8pshd');
  t.equal(invokedName(['node', '/src/main.ts']), 'main');
  t.equal(invokedName(['node', 'gcc.mjs']), 'gcc');
  t.equal(invokedName(['node']), 'k8psh');
});

t.test('faces by name', async (t) => {
  t.same(chooseFace('k8pshd', ['-e', 'bin']), { kind: 'server', args: ['-e', 'bin'] });
  t.same(chooseFace('k8psh', ['gcc', '-s']), { kind: 'frontend', args: ['gcc', '-s'] });
  t.same(chooseFace('main', ['-c', 'x']), { kind: 'frontend', args: ['-c', 'x'] });
  t.same(chooseFace('gcc', ['-s', '--health']), { kind: 'stub', command: 'gcc', args: ['-s', '--health'] });
});

t.test('the version alone is answered without a parser, under either name only', async (t) => {
  t.same(chooseFace('k8psh', ['-v']), { kind: 'version', name: 'k8psh' });
  t.same(chooseFace('k8pshd', ['--version']), { kind: 'version', name: 'k8pshd' });
  t.same(chooseFace('k8pshd', ['--version', '-c', 'x']), { kind: 'server', args: ['--version', '-c', 'x'] });
  t.equal(chooseFace('gcc', ['--version']).kind, 'stub');
});

t.test('-s among the options makes the server, and is removed', async (t) => {
  t.same(chooseFace('k8psh', ['-c', 'f', '-s', '-e', 'bin']), {
    kind: 'server',
    args: ['-c', 'f', '-e', 'bin'],
  });
  t.same(chooseFace('k8psh', ['--server']), { kind: 'server', args: [] });
  // After the command it belongs to the command.
  t.same(chooseFace('k8psh', ['cmd', '-s']), { kind: 'frontend', args: ['cmd', '-s'] });
  t.same(chooseFace('k8psh', ['--', '-s']), { kind: 'frontend', args: ['--', '-s'] });
});

t.test('--health is the front end under every server name', async (t) => {
  t.same(chooseFace('k8pshd', ['--health', '-n', 'a']), { kind: 'frontend', args: ['--health', '-n', 'a'] });
  t.same(chooseFace('k8psh', ['-s', '--health']), { kind: 'frontend', args: ['--health'] });
});

t.test('the first command word', async (t) => {
  t.equal(firstCommandIndex([]), -1);
  t.equal(firstCommandIndex(['-t', 'ls', '-l']), 1);
  t.equal(firstCommandIndex(['--name', 'a', '-', 'x']), 2);
  t.equal(firstCommandIndex(['--', 'ls']), 1);
  t.equal(firstCommandIndex(['--']), -1);
  t.equal(firstCommandIndex(['--config=f', 'ls']), 1);
});

t.test('-n is ssh-like stdin from /dev/null, except with --health where it names the server', async (t) => {
  // Were `-n` to take a value here, `sh` would be it and `-s` would make this the server.
  t.same(chooseFace('k8psh', ['-n', 'sh', '-s']), { kind: 'frontend', args: ['-n', 'sh', '-s'] });
  t.equal(firstCommandIndex(['-n', 'gcc', 'x.c']), 1);
  t.equal(isHealthCall(['--health', '-n', 'srv']), true);
  t.equal(isHealthCall(['-n', 'gcc', '--health']), false, "the command's own --health");
  t.same(chooseFace('k8pshd', ['--health', '-n', 'srv']), {
    kind: 'frontend',
    args: ['--health', '-n', 'srv'],
  });
});
