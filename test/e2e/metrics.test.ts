/**
 * `--metrics ADDRESS:PORT` (docs/observability.md): the probes answer as Kubernetes expects
 * (/livez always, /readyz only while sessions are accepted: 503 as soon as a drain starts), and
 * /metrics counts the sessions of a real server by transport and outcome, the bytes relayed and
 * the refusals by reason, in Prometheus's text format.
 */
import { join } from 'node:path';
import t from 'tap';
import {
  cleanup,
  DAEMON,
  freePorts,
  makeWorkspace,
  run,
  SKIP_UNBUILT,
  sleep,
  startServer,
} from './harness.js';
import { spawn } from 'node:child_process';

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}

/** The value of one series, `name{labels}`, in a Prometheus text exposition. */
function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

t.test('probes and session metrics', { skip: SKIP_UNBUILT }, async (t) => {
  const [port, metricsPort] = (await freePorts(2)) as [number, number];
  const ws = await makeWorkspace(`[ srv:${port} ]\nprintf\nsh\ncat\nmissing /nonexistent/program\n`);
  t.teardown(() => cleanup(ws.dir));
  const server = await startServer(
    ['--name', 'srv', '-c', ws.config, '--metrics', `127.0.0.1:${metricsPort}`],
    port,
    { env: ws.env, cwd: ws.dir, test: t },
  );
  t.same(await get(metricsPort, '/livez'), { status: 200, body: 'ok\n' });
  t.same(await get(metricsPort, '/readyz'), { status: 200, body: 'ok\n' });
  t.equal((await get(metricsPort, '/nothing')).status, 404);

  const stub = (name: string, args: string[], extra: NodeJS.ProcessEnv = {}, input?: string) =>
    run(join(ws.bin, name), args, { env: { ...ws.env, ...extra }, cwd: ws.dir, input });
  t.equal((await stub('printf', ['%s', 'abc'])).out, 'abc');
  t.equal((await stub('printf', ['%s', 'relayed'], { K8PSH_DIRECT_STDIO: '0' })).out, 'relayed');
  t.equal((await stub('cat', [], { K8PSH_DIRECT_STDIO: '0' }, 'seven b')).out, 'seven b');
  t.equal((await stub('sh', ['-c', 'exit 3'])).code, 3);
  t.equal((await stub('sh', ['-c', 'kill -TERM $$'])).signal, 'SIGTERM');
  t.equal((await stub('missing', [])).code, 127);

  const { status, body } = await get(metricsPort, '/metrics');
  t.equal(status, 200);
  t.equal(value(body, 'k8psh_sessions_started_total{transport="local"}'), 4, 'passed-descriptor sessions');
  t.equal(value(body, 'k8psh_sessions_started_total{transport="tcp"}'), 2, 'relayed over TCP');
  t.equal(value(body, 'k8psh_sessions_finished_total{outcome="exited"}'), 4);
  t.equal(value(body, 'k8psh_sessions_finished_total{outcome="signalled"}'), 1);
  t.equal(value(body, 'k8psh_sessions_finished_total{outcome="refused"}'), 1);
  t.equal(value(body, 'k8psh_refusals_total{reason="not-found"}'), 1);
  t.equal(value(body, 'k8psh_sessions_running'), 0);
  t.equal(value(body, 'k8psh_relayed_bytes_total{stream="stdin"}'), 7);
  t.equal(value(body, 'k8psh_relayed_bytes_total{stream="stdout"}'), 'relayed'.length + 'seven b'.length);
  t.equal(value(body, 'k8psh_session_duration_seconds_count{outcome="exited"}'), 4);
  t.match(body, /^k8psh_process_resident_memory_bytes \d+/m, "the process's own metrics");

  // Draining: not ready at once, alive, and gone when the last session ends.
  const long = spawn(join(ws.bin, 'sh'), ['-c', 'sleep 1; echo done'], { env: ws.env, cwd: ws.dir });
  let out = '';
  long.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const longDone = new Promise((resolve) => long.on('close', resolve));
  await sleep(300);
  const running = await get(metricsPort, '/metrics');
  t.equal(value(running.body, 'k8psh_sessions_running'), 1, 'one running');
  server.process.kill('SIGTERM');
  await sleep(200);
  t.same(await get(metricsPort, '/readyz'), { status: 503, body: 'not ready\n' }, 'draining: not ready');
  t.equal((await get(metricsPort, '/livez')).status, 200, 'draining: alive');
  t.equal(await server.exitedWithin(10000, 'after SIGTERM'), 0);
  await longDone;
  t.equal(out, 'done\n', 'the running session finished');
});

t.test('a bad --metrics address is one line, exit 1', { skip: SKIP_UNBUILT }, async (t) => {
  const [port] = (await freePorts(1)) as [number];
  const ws = await makeWorkspace(`[ srv:${port} ]\nprintf\n`, { stubs: false });
  t.teardown(() => cleanup(ws.dir));
  for (const bad of ['127.0.0.1', 'nowhere:99999']) {
    const r = await run(DAEMON, ['--name', 'srv', '-c', ws.config, '--metrics', bad], {
      env: ws.env,
      cwd: ws.dir,
    });
    t.equal(r.code, 1, bad);
    t.match(r.err, /^k8pshd: --metrics [^\n]*\n$/, `${bad}: one line`);
  }
});
