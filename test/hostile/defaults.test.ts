/**
 * A real k8pshd started without a single option uses the defaults the documents give (issue 21:
 * the default --max-request-bytes raised tenfold passed every test). The figures are read from
 * docs/limits.md and README.md (test/lib/documented-defaults.ts), and every check names them: each
 * cap is crossed by one and refused with a message naming the documented number, the request
 * budget refuses the first request that does not fit, and the times after a refusal and after a
 * client is gone are measured. What the options parser says: test/server/defaults.test.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { alive, cleanup, freePort, run, sleep, tempDir } from '../e2e/harness.js';
import { documentedLimits, documentedServerDefaults } from '../lib/documented-defaults.js';
import {
  converse,
  eventually,
  fdCount,
  hello,
  makeWorkspace,
  parseFrames,
  refusal,
  request,
  SKIP_UNBUILT,
  startServer,
  stringFrame,
  T,
  valueFrame,
} from './harness.js';

const limits = documentedLimits();
const serverDefaults = documentedServerDefaults();

/** A connection that sends `bytes` and then neither sends nor closes: what it received so far. */
async function hold(port: number, bytes: Buffer): Promise<{ socket: Socket; received: () => Buffer }> {
  const chunks: Buffer[] = [];
  // allowHalfOpen: the server's end does not make us end ours — a peer that never closes.
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  // Resolved once the bytes are in the kernel: most of them have been read by the server by then.
  if (bytes.length > 0) await new Promise<void>((resolve) => socket.write(bytes, () => resolve()));
  return { socket, received: () => Buffer.concat(chunks) };
}

t.test('k8pshd without options: the documented defaults', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const markerDir = tempDir('k8psh-marker-');
  const marker = join(markerDir, 'ran');
  const termed = join(markerDir, 'termed');
  const ws = await makeWorkspace(
    `[ srv:${port} ]\n` +
      `marker /bin/sh -c 'touch ${marker}; echo ran'\n` +
      `ok /bin/echo ok\n` +
      `stubborn /bin/sh -c 'trap "echo TERM > ${termed}" TERM; echo "ready $$"; while :; do sleep 0.05; done'\n`,
  );
  // K8PSH_DEBUG=Main: the server logs the options it parsed, which is all it changes.
  const server = await startServer(['--name', 'srv'], port, {
    env: { ...ws.env, K8PSH_DEBUG: 'Main' },
    cwd: ws.dir,
    test: t,
  });
  const pid = server.process.pid!;
  const held: Socket[] = [];
  t.teardown(async () => {
    for (const socket of held) socket.destroy();
    await server.stop();
    cleanup(ws.dir, markerDir);
  });
  // Warm up: the first session opens what the server keeps for all of them.
  const warm = await run(join(ws.bin, 'ok'), [], { env: ws.env, cwd: ws.dir });
  t.equal(warm.out, 'ok\n', `a session works: ${warm.err}`);
  await sleep(200);
  const baseline = fdCount(pid);

  t.test('the options it starts with', async (t) => {
    const line = server
      .stderr()
      .split('\n')
      .find((l) => l.includes('"msg":"starting"'));
    t.ok(line, 'the start-up line is logged');
    const { options } = JSON.parse(line!) as {
      options: {
        requestTimeoutMs: number;
        maxSessions: number;
        maxRequestBytes: number;
        maxConnections: number;
        timeout: number;
        pidfile: string;
        limits: Record<string, number>;
      };
    };
    t.same(
      {
        requestTimeoutMs: options.requestTimeoutMs,
        maxSessions: options.maxSessions,
        maxRequestBytes: options.maxRequestBytes,
        ...options.limits,
        maxConnections: options.maxConnections,
        timeout: options.timeout,
        pidfile: options.pidfile,
      },
      {
        requestTimeoutMs: limits.requestTimeoutMs.value,
        maxSessions: limits.maxSessions.value,
        maxRequestBytes: limits.maxRequestBytes.value,
        maxFramePayload: limits.maxFramePayload.value,
        maxDataPayload: limits.maxDataPayload.value,
        maxArguments: limits.maxArguments.value,
        maxArgumentBytes: limits.maxArgumentBytes.value,
        maxEnvironmentVariables: limits.maxEnvironmentVariables.value,
        maxEnvironmentBytes: limits.maxEnvironmentBytes.value,
        ...serverDefaults,
      },
    );
  });

  t.test('one over each cap: refused, naming the documented default', async (t) => {
    const frame = limits.maxFramePayload.value;
    const wd = stringFrame(T.WORKING_DIRECTORY, '');
    const big = 'a'.repeat(frame);
    const variable = (i: number): string => `V${i}=${'v'.repeat(frame - `V${i}=`.length)}`;
    const count = (n: number) => Array.from({ length: n }, (_, i) => i);
    const cases: { name: string; bytes: Buffer; message: string }[] = [
      {
        name: `a control frame of ${limits.maxFramePayload.text} + 1 byte`,
        bytes: Buffer.concat([wd, stringFrame(T.COMMAND_ARGUMENT, `${big}a`)]),
        message: `protocol error: frame of ${frame + 1} bytes exceeds the limit of ${frame}`,
      },
      {
        name: `${limits.maxArguments.text} + 1 arguments`,
        bytes: Buffer.concat([
          wd,
          ...count(limits.maxArguments.value + 1).map(() => stringFrame(T.COMMAND_ARGUMENT, 'a')),
        ]),
        message: `protocol error: too many arguments (the limit is ${limits.maxArguments.value})`,
      },
      {
        name: `more than ${limits.maxArgumentBytes.text} of arguments`,
        bytes: Buffer.concat([
          wd,
          ...count(Math.floor(limits.maxArgumentBytes.value / frame) + 1).map(() =>
            stringFrame(T.COMMAND_ARGUMENT, big),
          ),
        ]),
        message: `protocol error: arguments exceed ${limits.maxArgumentBytes.value} bytes`,
      },
      {
        name: `${limits.maxEnvironmentVariables.text} + 1 variables`,
        bytes: Buffer.concat([
          wd,
          ...count(limits.maxEnvironmentVariables.value + 1).map((i) =>
            stringFrame(T.ENVIRONMENT_VARIABLE, `V${i}=x`),
          ),
        ]),
        message: `protocol error: too many environment variables (the limit is ${limits.maxEnvironmentVariables.value})`,
      },
      {
        name: `more than ${limits.maxEnvironmentBytes.text} of environment`,
        bytes: Buffer.concat([
          wd,
          ...count(Math.floor(limits.maxEnvironmentBytes.value / frame) + 1).map((i) =>
            stringFrame(T.ENVIRONMENT_VARIABLE, variable(i)),
          ),
        ]),
        message: `protocol error: environment exceeds ${limits.maxEnvironmentBytes.value} bytes`,
      },
      {
        name: `a stdin data frame of ${limits.maxDataPayload.value} + 1 bytes (announced)`,
        bytes: Buffer.concat([valueFrame(T.STDIN_DATA, limits.maxDataPayload.value + 1), Buffer.alloc(100)]),
        message: `protocol error: data frame of ${limits.maxDataPayload.value + 1} bytes exceeds the limit of ${limits.maxDataPayload.value}`,
      },
    ];
    // One at a time: together they would also cross the request budget.
    for (const c of cases) {
      const result = await converse(
        port,
        Buffer.concat([hello(), c.bytes, stringFrame(T.START_COMMAND, 'marker')]),
      );
      t.same(
        refusal(result),
        { message: c.message, code: 1, types: [T.HELLO, T.ERROR, T.EXIT_CODE] },
        c.name,
      );
    }
    t.notOk(existsSync(marker), 'nothing ran');
  });

  t.test(`requests in progress: ${limits.maxRequestBytes.text} for all clients together`, async (t) => {
    const budget = limits.maxRequestBytes.value;
    const frame = limits.maxFramePayload.value;
    // As much as one request may hold within the per-request caps, START_COMMAND not yet sent.
    const partial = Buffer.concat([
      hello(),
      stringFrame(T.WORKING_DIRECTORY, ''),
      ...Array.from({ length: Math.floor(limits.maxArgumentBytes.value / frame) }, () =>
        stringFrame(T.COMMAND_ARGUMENT, 'a'.repeat(frame)),
      ),
      ...Array.from({ length: Math.floor(limits.maxEnvironmentBytes.value / frame) }, (_, i) =>
        stringFrame(T.ENVIRONMENT_VARIABLE, `V${i}=${'v'.repeat(frame - `V${i}=`.length)}`),
      ),
    ]);
    const fit = Math.floor(budget / partial.length);
    t.ok(fit >= 1, `${fit} requests of ${partial.length} bytes fit in ${budget}`);
    const fitting = [];
    for (let i = 0; i < fit; i++) {
      const connection = await hold(port, partial);
      held.push(connection.socket);
      fitting.push(connection);
      // The server has read it all before the next one comes: the one refused is the last.
      await sleep(300);
    }
    const over = await converse(port, partial, { timeoutMs: 5000 });
    t.same(
      refusal(over),
      {
        message: `server srv is busy (more than ${budget} bytes of requests in progress)`,
        code: 1,
        types: [T.HELLO, T.ERROR, T.EXIT_CODE],
      },
      `request ${fit + 1} does not fit`,
    );
    t.same(
      fitting.map((c) => parseFrames(c.received()).frames.map((f) => f.type)),
      fitting.map(() => [T.HELLO]),
      `the ${fit} before it wait for the rest of their requests`,
    );
    for (const c of fitting) c.socket.destroy();
    t.ok(await eventually(() => fdCount(pid) <= baseline, 5000), 'their descriptors are closed');
  });

  t.test(`a refused peer that never closes: dropped after ${limits.refusalLingerMs.value} ms`, async (t) => {
    const linger = limits.refusalLingerMs.value;
    const refused = await hold(port, Buffer.concat([hello(), valueFrame(0x3f, 0), request('marker')]));
    held.push(refused.socket);
    t.ok(
      await eventually(
        () => parseFrames(refused.received()).frames.some((f) => f.type === T.EXIT_CODE),
        5000,
      ),
      'refused',
    );
    const refusedAt = Date.now();
    t.ok(fdCount(pid) > baseline, 'the server holds it while the peer may still read');
    t.ok(await eventually(() => fdCount(pid) <= baseline, linger + 5000, 20), 'then drops it');
    const ms = Date.now() - refusedAt;
    t.ok(
      ms >= linger - 300 && ms < linger + 2500,
      `dropped ${ms} ms after the refusal (documented: ${linger})`,
    );
  });

  t.test(
    `${limits.maxSessions.text} sessions: the next one is refused and dropped after ${limits.refusalLingerMs.alternative} ms`,
    async (t) => {
      const cap = limits.maxSessions.value;
      const linger = limits.refusalLingerMs.alternative!;
      const idle = [];
      for (let i = 0; i < cap; i++)
        idle.push(hold(port, Buffer.concat([hello(), stringFrame(T.WORKING_DIRECTORY, '')])));
      const sessions = await Promise.all(idle);
      held.push(...sessions.map((s) => s.socket));
      t.ok(await eventually(() => fdCount(pid) >= baseline + cap, 10000), `the server holds ${cap}`);
      const full = fdCount(pid);
      const next = await hold(port, Buffer.alloc(0));
      held.push(next.socket);
      t.ok(
        await eventually(() => parseFrames(next.received()).frames.some((f) => f.type === T.EXIT_CODE), 5000),
      );
      const refusedAt = Date.now();
      t.same(
        refusal({ ...parseFrames(next.received()), raw: next.received(), closed: true, ms: 0 }),
        {
          message: `k8psh: server srv is busy (${cap} sessions)\n`,
          code: 1,
          types: [T.STDERR_DATA, T.EXIT_CODE],
        },
        `session ${cap + 1} is refused`,
      );
      t.ok(await eventually(() => fdCount(pid) <= full, linger + 5000, 20), 'then dropped');
      const ms = Date.now() - refusedAt;
      t.ok(
        ms >= linger - 300 && ms < linger + 2500,
        `dropped ${ms} ms after the refusal (documented: ${linger})`,
      );
      for (const s of sessions) s.socket.destroy();
      t.ok(
        await eventually(() => fdCount(pid) <= baseline, 10000),
        'the idle ones are gone with their peers',
      );
    },
  );

  t.test(`a client gone: SIGTERM, then SIGKILL after ${limits.killGraceMs.value} ms`, async (t) => {
    const grace = limits.killGraceMs.value;
    const client = await hold(port, Buffer.concat([hello(), request('stubborn')]));
    held.push(client.socket);
    const output = (): string =>
      Buffer.concat(
        parseFrames(client.received())
          .frames.filter((f) => f.type === T.STDOUT_DATA)
          .map((f) => f.payload!),
      ).toString();
    t.ok(await eventually(() => /^ready \d+\n/.test(output()), 10000), 'the command runs');
    const commandPid = Number(/^ready (\d+)/.exec(output())![1]);
    client.socket.destroy();
    const goneAt = Date.now();
    t.ok(await eventually(() => !alive(commandPid), grace + 5000, 20), 'the command is ended');
    const ms = Date.now() - goneAt;
    t.equal(
      existsSync(termed) ? readFileSync(termed, 'utf8') : '',
      'TERM\n',
      'SIGTERM first (it ignored it)',
    );
    t.ok(
      ms >= grace - 300 && ms < grace + 2500,
      `SIGKILL ${ms} ms after the client left (documented: ${grace})`,
    );
  });

  t.test('the server runs on: --max-connections and --timeout unlimited', async (t) => {
    t.equal(server.process.exitCode, null, 'still running after all those sessions');
    const r = await run(join(ws.bin, 'ok'), [], { env: ws.env, cwd: ws.dir });
    t.equal(r.out, 'ok\n', `a session works: ${r.err}`);
    t.notMatch(server.stderr(), /internal error/);
  });
});
