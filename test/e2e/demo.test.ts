/**
 * `npm run demo` (scripts/demo.mjs) speaks to people: bold headings and coloured logs at a terminal,
 * plain text in a file or pipe and with NO_COLOR. It serves config/k8psh.conf's fixed port 1120.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { canConnect, ROOT, SKIP_UNBUILT } from './harness.js';

const ESC = '\x1b';
const demo = join(ROOT, 'scripts/demo.mjs');
const skip =
  SKIP_UNBUILT || ((await canConnect(1120)) ? 'port 1120 is in use: the demo cannot run now' : false);

/** Runs the demo, through `script` for a terminal; stdout and stderr together. */
function runDemo(terminal: boolean, env: NodeJS.ProcessEnv): { status: number | null; out: string } {
  const [file, args] = terminal
    ? ['script', ['-qec', `${process.execPath} ${demo}`, '/dev/null']]
    : [process.execPath, [demo]];
  const r = spawnSync(file, args, { env, cwd: ROOT, encoding: 'utf8', timeout: 60_000, stdio: 'pipe' });
  return { status: r.status, out: r.stdout + r.stderr };
}

t.test('the demo uses colours only for a terminal without NO_COLOR', { skip }, async (t) => {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NO_COLOR;
  const piped = runDemo(false, env);
  t.equal(piped.status, 0, piped.out);
  t.match(piped.out, '$ uname -a', 'it ran');
  t.notOk(piped.out.includes(ESC), 'piped: no escape codes');
  const terminal = runDemo(true, env);
  t.equal(terminal.status, 0, terminal.out);
  t.ok(terminal.out.includes(`${ESC}[1m$ uname -a`), 'at a terminal: bold headings');
  const noColor = runDemo(true, { ...env, NO_COLOR: '1' });
  t.equal(noColor.status, 0, noColor.out);
  t.match(noColor.out, '$ uname -a');
  t.notOk(noColor.out.includes(ESC), 'NO_COLOR at a terminal: no escape codes, logs included');
});
