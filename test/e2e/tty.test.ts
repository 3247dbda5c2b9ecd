/**
 * Terminals (docs/terminals.md): the client runs inside a real pseudo-terminal driven by node-pty.
 * By default the terminal itself is passed to the remote command (the direct path); `-t` /
 * K8PSH_TTY=1 gives it a pseudo-terminal of its own (docs/terminals.md's terminal mode).
 */
import { join } from 'node:path';
import t from 'tap';
import { cleanup, freePort, makeWorkspace, SKIP_UNBUILT, sleep, startServer } from './harness.js';
import { terminal as open } from './terminal.js';

const terminal = (
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  cols?: number,
  rows?: number,
) => open(file, args, { env, cwd, cols, rows });

t.test('terminal mode', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const ws = await makeWorkspace(`
[ srv:${port} ]
tty
stty
cat
sh
winch /bin/sh -c 'trap "stty size" WINCH; echo ready; while :; do sleep 0.05; done'
loop /bin/sh -c 'echo ready; while :; do sleep 0.05; done'
printenv
`);
  const env = { ...ws.env, K8PSH_TTY: undefined, TERM: 'xterm-256color' };
  delete env.K8PSH_TTY;
  const server = await startServer(['--name', 'srv'], port, { env, cwd: ws.dir });
  t.teardown(async () => {
    await server.stop();
    cleanup(ws.dir);
  });
  const stub = (name: string): string => join(ws.bin, name);

  t.test('remote tty is a /dev/pts device, TERM comes along', async (t) => {
    const term = terminal(stub('tty'), [], env, ws.dir);
    t.equal((await term.exit).exitCode, 0);
    t.match(term.output(), /\/dev\/pts\/\d+\r\n/);
    t.notMatch(term.output(), /\r\r\n/, 'lines end \\r\\n as with ssh -t, not \\r\\r\\n');
    for (const setting of ['0', '1']) {
      const printenv = terminal(stub('printenv'), ['TERM'], { ...env, K8PSH_TTY: setting }, ws.dir);
      await printenv.exit;
      t.match(printenv.output(), /xterm-256color/, `K8PSH_TTY=${setting}`);
    }
  });

  t.test('stty size is the client terminal size', async (t) => {
    const term = terminal(stub('stty'), ['size'], env, ws.dir, 101, 33);
    t.equal((await term.exit).exitCode, 0);
    t.match(term.output(), /33 101/);
  });

  t.test('a resize reaches a remote trap on WINCH', async (t) => {
    const term = terminal(stub('winch'), [], env, ws.dir, 80, 24);
    await term.waitFor(/ready/);
    term.resize(120, 40);
    await term.waitFor(/40 120/);
    term.write('\x03');
    const end = await term.exit;
    t.ok(end.exitCode === 130 || end.signal === 2, 'Ctrl-C ended it');
  });

  t.test('Ctrl-C ends a remote loop', async (t) => {
    const term = terminal(stub('loop'), [], env, ws.dir);
    await term.waitFor(/ready/);
    term.write('\x03');
    const end = await term.exit;
    t.ok(end.exitCode === 130 || end.signal === 2, `ended by SIGINT (${JSON.stringify(end)})`);
  });

  t.test('interactive cat echoes a line and ends on Ctrl-D with 0', async (t) => {
    const term = terminal(stub('cat'), [], env, ws.dir);
    await sleep(300);
    term.write('hello there\r');
    await term.waitFor(/hello there\r\n(.|\r|\n)*hello there/);
    term.write('\x04');
    t.equal((await term.exit).exitCode, 0);
  });

  t.test('the local terminal is back in cooked mode afterwards', async (t) => {
    // A trap, not an ignored SIGINT: the stub must still hear Ctrl-C, and sh go on after it.
    const term = terminal(
      '/bin/sh',
      [
        '-c',
        `trap "echo trapped" INT; K8PSH_TTY=1 "${stub('tty')}" >/dev/null; stty -a; "${stub('loop')}"; stty -a`,
      ],
      env,
      ws.dir,
    );
    await term.waitFor(/ready/);
    term.write('\x03');
    await term.exit;
    const reports = term.output().split('speed').slice(1);
    t.equal(reports.length, 2, 'two stty reports');
    for (const report of reports) {
      t.match(report, /(^|\s)icanon(\s|$)/, 'canonical mode is back');
      t.match(report, /(^|\s)echo(\s|$)/, 'echo is back');
      t.match(report, /(^|\s)opost(\s|$)/, 'output processing is back');
    }
  });

  t.test('a remote command killed in raw mode leaves the terminal as it was found', async (t) => {
    const term = terminal(
      '/bin/sh',
      [
        '-c',
        `trap "echo trapped" INT; "${stub('sh')}" -c 'stty -echo -icanon; echo ready; sleep 30'; stty -a`,
      ],
      env,
      ws.dir,
    );
    await term.waitFor(/ready/);
    term.write('\x03');
    await term.exit;
    const report = term.output().split('speed')[1] ?? '';
    t.match(report, /(^|\s)icanon(\s|$)/, 'canonical mode is back');
    t.match(report, /(^|\s)echo(\s|$)/, 'echo is back');
  });

  t.test('-T / K8PSH_TTY=0: no pseudo-terminal, the client terminal itself is passed', async (t) => {
    const term = terminal('/bin/sh', ['-c', `tty; K8PSH_TTY=0 "${stub('tty')}"`], env, ws.dir);
    await term.exit;
    const [local, remote] = term.output().split('\r\n');
    t.match(local, /^\/dev\/pts\/\d+$/);
    t.equal(remote, local, 'the same terminal, as for a local command');
  });

  t.test('-t / K8PSH_TTY=1: a pseudo-terminal of its own', async (t) => {
    const term = terminal('/bin/sh', ['-c', `tty; K8PSH_TTY=1 "${stub('tty')}"`], env, ws.dir);
    await term.exit;
    const [local, remote] = term.output().split('\r\n');
    t.match(remote, /^\/dev\/pts\/\d+$/);
    t.not(remote, local);
    t.notMatch(term.output(), /\r\r\n/, 'lines end \\r\\n as with ssh -t, not \\r\\r\\n');
  });
});
