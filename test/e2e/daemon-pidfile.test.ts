/**
 * `k8pshd -b` with no --pidfile writes the default /run/k8pshd.pid (README.md, "Server k8pshd"). The real default
 * path is used, so this test runs only where it may: as root, with no such file already there (it
 * belongs to a real daemon then), and it removes what it made.
 */
import { accessSync, constants, existsSync, readFileSync, rmSync } from 'node:fs';
import t from 'tap';
import {
  alive,
  canConnect,
  cleanup,
  DAEMON,
  freePort,
  makeWorkspace,
  run,
  SKIP_UNBUILT,
  sleep,
} from './harness.js';

const PIDFILE = '/run/k8pshd.pid';

function whyNot(): string | false {
  if (SKIP_UNBUILT) return SKIP_UNBUILT;
  try {
    accessSync('/run', constants.W_OK);
  } catch {
    return `${PIDFILE} cannot be written here (not root?): skipped`;
  }
  return existsSync(PIDFILE) ? `${PIDFILE} exists (a real daemon's?): skipped, left alone` : false;
}

t.test('-b writes the default pidfile and removes it on exit', { skip: whyNot() }, async (t) => {
  const port = await freePort();
  const ws = await makeWorkspace(`[ srv:${port} ]\nok /bin/echo ok\n`);
  const opts = { env: ws.env, cwd: ws.dir };
  let daemon = 0;
  t.teardown(() => {
    if (daemon && alive(daemon)) process.kill(daemon, 'SIGKILL');
    if (daemon && existsSync(PIDFILE) && Number(readFileSync(PIDFILE, 'utf8')) === daemon) rmSync(PIDFILE);
    cleanup(ws.dir);
  });
  const started = await run(DAEMON, ['-b', '--name', 'srv'], opts);
  t.equal(started.code, 0, started.err);
  t.ok(await canConnect(port), 'the daemon listens');
  t.ok(existsSync(PIDFILE), `${PIDFILE} is written`);
  daemon = Number(readFileSync(PIDFILE, 'utf8'));
  t.ok(daemon > 0 && alive(daemon), `it holds the daemon's pid (${daemon})`);
  process.kill(daemon, 'SIGTERM');
  for (let i = 0; i < 250 && alive(daemon); i++) await sleep(20);
  t.notOk(alive(daemon), 'SIGTERM stops the daemon');
  t.notOk(existsSync(PIDFILE), 'and the pidfile is removed');
});
