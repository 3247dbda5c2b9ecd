/**
 * Issue 14: each of fd 0, 1, 2 keeps its local meaning, terminals included (docs/terminals.md).
 * Real terminals (node-pty), real pipes (FIFOs) and files; one server for everything.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  BIN,
  cleanup,
  freePort,
  makeWorkspace,
  run,
  SKIP_UNBUILT,
  sleep,
  startServer,
  writeFile,
} from './harness.js';
import { terminal, type Terminal } from './terminal.js';

/** `bash -c script` in a real terminal: the screen is exactly what the script prints. */
const shell = (script: string, env: NodeJS.ProcessEnv, cwd: string): Terminal =>
  terminal('/bin/bash', ['--norc', '--noprofile', '-c', script], {
    env,
    cwd,
    cols: 200,
    rows: 50,
    waitMs: 15000,
  });

/** The remote probe: isatty of 0-2 and one line of stdin to a report file, then a line on 1 and 2. */
const PROBE = `t0=n; [ -t 0 ] && t0=t; t1=n; [ -t 1 ] && t1=t; t2=n; [ -t 2 ] && t2=t
echo "$t0$t1$t2" > "$1"
IFS= read -r line; echo "read:$line" >> "$1"
echo "OUT-$2"; echo "ERR-$2" >&2
`;

/**
 * Runs the probe on every combination of {t: terminal, p: pipe, f: file} for fd 0, 1, 2; after
 * it, the caller reads one more line of stdin ("rest:"), which must still be there.
 */
const DRIVER = `set -u
for a in t p f; do for b in t p f; do for c in t p f; do
  n=$a$b$c; r0=; r1=; r2=
  case $a in
    p) mkfifo in.$n; printf 'first\\nsecond\\n' > in.$n & r0="< in.$n" ;;
    f) printf 'first\\nsecond\\n' > in.$n; r0="< in.$n" ;;
    t) echo "TYPE-$n" ;;
  esac
  case $b in p) mkfifo o.$n; cat o.$n > out.$n & r1="> o.$n" ;; f) r1="> out.$n" ;; esac
  case $c in p) mkfifo e.$n; cat e.$n > err.$n & r2="2> e.$n" ;; f) r2="2> err.$n" ;; esac
  eval "{ \\"\\$PROBE_STUB\\" \\"\\$PWD/report.$n\\" $n; IFS= read -r rest; echo \\"rest:\\$rest\\" >> report.$n; } $r0 $r1 $r2"
  wait
done; done; done
echo DONE
`;

const COMBOS = ['t', 'p', 'f'].flatMap((a) =>
  ['t', 'p', 'f'].flatMap((b) => ['t', 'p', 'f'].map((c) => a + b + c)),
);

t.test('descriptors keep their local meaning', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const ws = await makeWorkspace(`
[ srv:${port} ]
sh
probe /bin/sh ${join('..', 'probe.sh')}
ish PS1='remote> ' /bin/sh -i
`);
  writeFile(join(ws.dir, 'probe.sh'), PROBE);
  const env: NodeJS.ProcessEnv = { ...ws.env, TERM: 'xterm-256color', PROBE_STUB: join(ws.bin, 'probe') };
  delete env.K8PSH_TTY;
  delete env.K8PSH_STDIN;
  delete env.PS1;
  const server = await startServer(['--name', 'srv'], port, { env, cwd: ws.dir });
  t.teardown(async () => {
    await server.stop();
    cleanup(ws.dir);
  });
  const sh = join(ws.bin, 'sh');
  const work = join(ws.dir, 'work');
  writeFile(join(work, '.keep'), '');

  t.test('a read loop over a pipe, typed in a terminal: every line is processed', async (t) => {
    const loop = `printf 'a\\nb\\nc\\n' | while read x; do "${sh}" -c "echo got $x"; done`;
    const term = shell(loop, env, ws.dir);
    t.equal((await term.exit).exitCode, 0);
    t.equal(term.output(), 'got a\r\ngot b\r\ngot c\r\n');
  });

  t.test('the relayed path reads ahead, and K8PSH_STDIN=null (ssh -n) keeps the loop whole', async (t) => {
    // The remote command lingers so that the relay has surely read its stdin before EXIT_CODE comes:
    // a command ending at once can win that race, and then nothing was read ahead.
    const loop = (stdin: string): string =>
      `printf 'a\\nb\\nc\\n' | while read x; do K8PSH_DIRECT_STDIO=0 K8PSH_STDIN=${stdin} "${sh}" -c "sleep 0.3; echo got $x"; done`;
    const swallowed = shell(loop(''), env, ws.dir);
    await swallowed.exit;
    t.equal(swallowed.output(), 'got a\r\n', 'documented: the relay sends what it read ahead');
    const kept = shell(loop('null'), env, ws.dir);
    await kept.exit;
    t.equal(kept.output(), 'got a\r\ngot b\r\ngot c\r\n');
  });

  t.test('2>file in a terminal: stdout on the screen, stderr in the file', async (t) => {
    for (const direct of ['1', '0']) {
      const file = join(ws.dir, `err-${direct}.txt`);
      const term = shell(
        `K8PSH_DIRECT_STDIO=${direct} "${sh}" -c 'echo out; echo err >&2' 2>"${file}"`,
        env,
        ws.dir,
      );
      t.equal((await term.exit).exitCode, 0);
      t.equal(term.output(), 'out\r\n', `K8PSH_DIRECT_STDIO=${direct}: the screen`);
      t.equal(readFileSync(file, 'utf8'), 'err\n', `K8PSH_DIRECT_STDIO=${direct}: the file`);
    }
  });

  t.test('all 27 combinations of terminal, pipe and file on fd 0-2', async (t) => {
    const term = shell(DRIVER, env, work);
    for (const combo of COMBOS.filter((c) => c.startsWith('t'))) {
      await term.waitFor(new RegExp(`TYPE-${combo}`));
      // Both lines at once: the remote command must read only the first.
      term.write('first\rsecond\r');
    }
    await term.waitFor(/DONE/, 60000);
    t.equal((await term.exit).exitCode, 0);
    const screen = term.output();
    for (const combo of COMBOS) {
      const [a, b, c] = combo;
      const expected = [a, b, c].map((kind) => (kind === 't' ? 't' : 'n')).join('');
      t.equal(
        readFileSync(join(work, `report.${combo}`), 'utf8'),
        `${expected}\nread:first\nrest:second\n`,
        `${combo}: isatty per descriptor, one line read remotely, the next one left for the caller`,
      );
      const landed = (kind: string | undefined, file: string, text: string): void => {
        if (kind === 't') t.match(screen, `${text}\r\n`, `${combo}: ${text} on the terminal`);
        else {
          t.notMatch(screen, text, `${combo}: ${text} not on the terminal`);
          t.equal(readFileSync(join(work, file), 'utf8'), `${text}\n`, `${combo}: ${text} in its ${kind}`);
        }
      };
      landed(b, `out.${combo}`, `OUT-${combo}`);
      landed(c, `err.${combo}`, `ERR-${combo}`);
    }
  });

  t.test('an interactive remote sh -i on the passed terminal', async (t) => {
    const term = shell(`"${join(ws.bin, 'ish')}"; echo "back $?"`, env, ws.dir);
    t.teardown(() => term.kill());
    await term.waitFor(/remote> /);
    term.write('echo inside\r');
    await term.waitFor(/inside\r\nremote> /);
    term.write('sleep 30\r');
    await sleep(300);
    // Ctrl-C reaches the remote foreground command through the stub; the shell survives it.
    term.write('\x03');
    await term.waitFor(/sleep 30\r\n(.|\r|\n)*remote> $/, 5000);
    term.write('exit 3\r');
    await term.waitFor(/back 3/);
    t.equal((await term.exit).exitCode, 0);
  });

  t.test(
    '-n (front end) and K8PSH_STDIN=null: the command reads /dev/null, the caller keeps stdin',
    async (t) => {
      for (const direct of ['1', '0']) {
        const front = await run('/bin/sh', ['-c', `{ "${BIN}" -n sh -c 'cat; echo remote-done'; cat; }`], {
          env: { ...env, K8PSH_DIRECT_STDIO: direct },
          cwd: ws.dir,
          input: 'l1\nl2\n',
        });
        t.equal(front.out, 'remote-done\nl1\nl2\n', `k8psh -n, K8PSH_DIRECT_STDIO=${direct}`);
        const stub = await run('/bin/sh', ['-c', `{ "${sh}" -c 'cat; echo remote-done'; cat; }`], {
          env: { ...env, K8PSH_DIRECT_STDIO: direct, K8PSH_STDIN: 'null' },
          cwd: ws.dir,
          input: 'l1\nl2\n',
        });
        t.equal(stub.out, 'remote-done\nl1\nl2\n', `K8PSH_STDIN=null, K8PSH_DIRECT_STDIO=${direct}`);
      }
      const bad = await run(sh, ['-c', 'true'], { env: { ...env, K8PSH_STDIN: 'zero' }, cwd: ws.dir });
      t.equal(bad.code, 1);
      t.equal(bad.err, 'k8psh: K8PSH_STDIN must be "null" or unset, not "zero"\n');
    },
  );
});
