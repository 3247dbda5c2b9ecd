#!/usr/bin/env node
/**
 * `npm run demo`: a server on config/k8psh.conf (host `local`), its stubs in a
 * temporary directory, a few commands through them, a clean shut-down.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const daemon = join(root, 'dist/k8pshd');
const config = join(root, 'config/k8psh.conf');
const port = 1120;
const bin = mkdtempSync(join(tmpdir(), 'k8psh-demo-'));
const env = { ...process.env, K8PSH_CONFIG: config, K8PSH_TTY: '0' };

// Bold for a person at a terminal; plain in a file or a pipe, or with NO_COLOR set (no-color.org).
const bold = process.stdout.isTTY === true && !process.env.NO_COLOR;
const say = (text) => process.stdout.write(bold ? `\n\x1b[1m${text}\x1b[0m\n` : `\n${text}\n`);

function show(label, file, args, input) {
  say(`$ ${label}`);
  const result = spawnSync(file, args, { env, cwd: root, input, stdio: ['pipe', 'inherit', 'inherit'] });
  process.stdout.write(`(exit status ${result.status ?? `signal ${result.signal}`})\n`);
}

function listening() {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => done(socket.destroy() && true));
    socket.once('error', () => done(false));
  });
}

say(`$ k8pshd --config config/k8psh.conf --name local --executable-directory ${bin} &`);
const server = spawn(
  daemon,
  ['--config', config, '--name', 'local', '-l', '--executable-directory', bin, '--log-format', 'pretty'],
  {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  },
);
const exited = new Promise((done) => server.on('exit', (code) => done(code)));
for (let i = 0; !(await listening()); i++) {
  if (i > 200 || server.exitCode !== null) {
    console.error('the server did not start (is port 1120 in use?)');
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 25));
}
say(`stubs: ${readdirSync(bin).join(' ')}`);

show('uname -a            # runs on the server', join(bin, 'uname'), ['-a']);
show('greet               # GREETING= defaults to hello', join(bin, 'greet'), []);
env.GREETING = 'hi';
show('GREETING=hi greet   # the client value wins', join(bin, 'greet'), []);
show("echo 'piped stdin' | cat", join(bin, 'cat'), [], 'piped stdin\n');
show('echo-args one "two words"', join(bin, 'echo-args'), ['one', 'two words']);
show('false               # exit codes come back', join(bin, 'false'), []);
show('sh -c "exit 42"', join(bin, 'sh'), ['-c', 'exit 42']);

say('$ kill -TERM <k8pshd>   # stops, removes its stubs');
server.kill('SIGTERM');
const code = await exited;
say(`k8pshd exited with ${code}; stubs left: ${readdirSync(bin).length}`);
rmSync(bin, { recursive: true, force: true });
