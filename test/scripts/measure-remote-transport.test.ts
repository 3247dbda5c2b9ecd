/**
 * The transport measurement behind docs/remote.md runs, reports every row with figures, and leaves
 * nothing behind: no network namespace, no child process, no temporary directory.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const script = fileURLToPath(new URL('../../scripts/measure-remote-transport.mjs', import.meta.url));
// The test runner's loader hooks must not reach the measured processes.
const env = { ...process.env };
delete env.NODE_OPTIONS;

const namespaces = () => {
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  return (listed.stdout ?? '').split('\n').filter((line) => line.startsWith('k8psh-mrt-'));
};
const temporaries = () => fs.readdirSync('/tmp').filter((name) => name.startsWith('k8psh-mrt-'));

interface Row {
  name: string;
  unit: string;
  n: number;
  min: number;
  p25: number;
  median: number;
  p75: number;
  max: number;
}

t.test('--quick --json: every row, figures above 0, nothing left behind', async (t) => {
  const before = temporaries();
  const run = spawnSync(process.execPath, [script, '--quick', '--json', '--timeout', '50'], {
    encoding: 'utf8',
    env,
    timeout: 58_000,
  });
  t.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout) as { where: string; rows: Row[]; pids: number[] };
  t.match(report.where, /^(netns|loopback)$/);
  const names = report.rows.map((row) => row.name);
  for (const expected of [
    /^call: plain TCP/,
    /^call: new mTLS 1\.3 connection/,
    /^call: HTTP\/2 stream/,
    /^call: warm pool of 32/,
    /^200 concurrent: h2 200 streams$/,
    /^200 concurrent: pool 32$/,
    /^200 concurrent: pool 200$/,
    /^bulk 32 MiB: h2 default$/,
    /^bulk 32 MiB: h2 window$/,
    /^bulk 32 MiB: tls socket$/,
    /^idle RssAnon: one HTTP\/2 session$/,
    /^idle RssAnon: pool of 32 TLS sockets$/,
  ])
    t.ok(
      names.some((name) => expected.test(name)),
      `row ${expected}`,
    );
  for (const row of report.rows) {
    t.ok(row.n > 0, `${row.name}: n ${row.n}`);
    t.ok(
      row.min > 0 && row.min <= row.median && row.median <= row.max,
      `${row.name}: ${row.median} ${row.unit}`,
    );
  }
  t.ok(report.pids.length >= 5, 'server, gateway and the idle gateways ran');
  for (const pid of report.pids) t.notOk(fs.existsSync(`/proc/${pid}`), `child ${pid} is gone`);
  t.same(namespaces(), [], 'no network namespace left');
  t.same(temporaries(), before, 'no temporary directory left');
});

t.test('bad input: one line, exit 2', async (t) => {
  const bad = spawnSync(process.execPath, [script, '--rounds', 'x'], {
    encoding: 'utf8',
    env,
    timeout: 10_000,
  });
  t.equal(bad.status, 2);
  t.match(bad.stderr, /^measure-remote-transport: --rounds wants a positive integer, not x\n$/);
  const unknown = spawnSync(process.execPath, [script, '--nope'], { encoding: 'utf8', env, timeout: 10_000 });
  t.equal(unknown.status, 2);
  t.equal(unknown.stderr.split('\n').length, 2, unknown.stderr);
});
