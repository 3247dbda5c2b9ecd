/**
 * Hostile frames against a running server (issue 7 §2): random bytes, lengths
 * near 4 GiB, unknown types, frames out of order, requests over the caps. Each
 * is refused before anything runs — the only command they name, `marker`,
 * would create a file, which must never exist — with an ERROR frame for a new
 * client (HELLO first) or STDERR_DATA "k8psh: ..." for an original one, then
 * EXIT_CODE; a normal session on the same server keeps working and the
 * server's RSS stays under 150 MiB.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { cleanup, freePort, run, sleep, tempDir } from '../e2e/harness.js';
import {
  converse,
  DAEMON,
  valueFrame,
  hello,
  makeWorkspace,
  MiB,
  randomBytes,
  refusal,
  request,
  RSS_LIMIT,
  rss,
  SKIP_UNBUILT,
  startServer,
  stringFrame,
  T,
  type Conversation,
  type Workspace,
} from './harness.js';

/** Server options for every server here: a request not complete in 2 s is refused. */
const REQUEST_TIMEOUT_MS = 2000;

interface Case {
  name: string;
  /** The bytes after the (optional) HELLO, sent in one write. */
  bytes: Buffer;
  /** The refusal, word for word (an original client gets it as `k8psh: MESSAGE\n`). */
  message: string;
  /** Exit code in the refusal; default 1. */
  code?: number;
  /** Only as an old client (no HELLO) / only as a new one. */
  only?: 'legacy' | 'modern';
}

async function setUp(t: Test, serverArgs: string[] = []) {
  const port = await freePort();
  const markerDir = tempDir('k8psh-marker-');
  const marker = join(markerDir, 'ran');
  const ws = await makeWorkspace(
    `[ srv:${port} ]\nmarker /bin/sh -c 'touch ${marker}; echo ran'\nok /bin/echo ok\nslow /bin/sh -c 'sleep 1; echo slow' sh\n`,
  );
  t.teardown(() => cleanup(ws.dir, markerDir));
  const server = await startServer(
    ['--name', 'srv', '--request-timeout', String(REQUEST_TIMEOUT_MS), ...serverArgs],
    port,
    { env: ws.env, cwd: ws.dir },
  );
  const pid = server.process.pid!;
  let peak = rss(pid);
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rss(pid));
    } catch {
      // The server is gone: the checks below say so.
    }
  }, 10);
  t.teardown(async () => {
    clearInterval(sampler);
    await server.stop();
  });
  return { port, marker, ws, server, pid, peak: () => peak };
}

/** The refusal a new or an old client must get for a case. */
function checkRefusal(t: Test, result: Conversation, c: Case, modern: boolean): void {
  t.ok(result.closed, 'the server closes the connection');
  const r = refusal(result);
  if (modern) {
    t.same(r.types, [T.HELLO, T.ERROR, T.EXIT_CODE], 'HELLO reply, ERROR, EXIT_CODE');
    t.equal(r.message, c.message, 'the ERROR message');
  } else {
    t.same(r.types, [T.STDERR_DATA, T.EXIT_CODE], 'STDERR_DATA, EXIT_CODE: frames an old client knows');
    t.equal(r.message, `k8psh: ${c.message}\n`, 'the stderr line');
  }
  t.equal(r.code, c.code ?? 1, 'exit code');
}

async function normalSession(t: Test, ws: Workspace): Promise<void> {
  const r = await run(join(ws.bin, 'ok'), [], { env: ws.env, cwd: ws.dir });
  t.equal(r.code, 0, `a normal session works: ${r.err}`);
  t.equal(r.out, 'ok\n');
}

/** Runs every case as an old and as a new client, all at once. */
async function refuseAll(
  t: Test,
  port: number,
  marker: string,
  cases: Case[],
  options: { immediate?: boolean; oneAtATime?: boolean } = {},
): Promise<void> {
  const plan = cases.flatMap((c) =>
    (['legacy', 'modern'] as const)
      .filter((kind) => !c.only || c.only === kind)
      .map((kind) => async () => {
        const modern = kind === 'modern';
        const result = await converse(port, modern ? Buffer.concat([hello(), c.bytes]) : c.bytes);
        return { c, modern, result };
      }),
  );
  const results = [];
  if (options.oneAtATime) for (const step of plan) results.push(await step());
  else results.push(...(await Promise.all(plan.map((step) => step()))));
  for (const { c, modern, result } of results)
    t.test(`${c.name} (${modern ? 'new client' : 'old client'})`, async (t) => {
      checkRefusal(t, result, c, modern);
      if (options.immediate !== false)
        t.ok(result.ms < REQUEST_TIMEOUT_MS, `refused at once (${result.ms} ms), not at the request timeout`);
      t.notOk(existsSync(marker), 'nothing ran');
    });
}

t.test('hostile frames are refused before anything runs', { skip: SKIP_UNBUILT }, async (t) => {
  const { port, marker, ws, server, pid, peak } = await setUp(t);
  await normalSession(t, ws);
  const start = request('marker');

  t.test('unknown frame types', async (t) => {
    await refuseAll(
      t,
      port,
      marker,
      [9, 0x3f, 0x46, 0x80, 0xff].map((type) => ({
        name: `type ${type}`,
        bytes: Buffer.concat([valueFrame(type, 0), start]),
        message: `protocol error: unknown frame type ${type}`,
      })),
    );
  });

  t.test('lengths near 4 GiB with little data behind them', async (t) => {
    const tail = Buffer.alloc(100, 0x61);
    const before = peak();
    await refuseAll(t, port, marker, [
      ...[T.WORKING_DIRECTORY, T.ENVIRONMENT_VARIABLE, T.COMMAND_ARGUMENT, T.START_COMMAND].map((type) => ({
        name: `control frame ${type} of 0xffffffff bytes`,
        bytes: Buffer.concat([valueFrame(type, 0xffffffff), tail]),
        message: 'protocol error: frame of 4294967295 bytes exceeds the limit of 1048576',
      })),
      {
        name: 'STDIN_DATA of 0xfffffff0 bytes',
        bytes: Buffer.concat([valueFrame(T.STDIN_DATA, 0xfffffff0), tail]),
        message: 'protocol error: data frame of 4294967280 bytes exceeds the limit of 16777216',
      },
      {
        name: 'HELLO of 0xffffffff bytes',
        bytes: Buffer.concat([valueFrame(T.HELLO, 0xffffffff), tail]),
        message: 'protocol error: frame of 4294967295 bytes exceeds the limit of 1048576',
        only: 'legacy',
      },
      {
        name: 'a second request after HELLO, announcing 2 GiB',
        bytes: Buffer.concat([
          stringFrame(T.WORKING_DIRECTORY, ''),
          valueFrame(T.COMMAND_ARGUMENT, 0x80000000),
          tail,
        ]),
        message: 'protocol error: frame of 2147483648 bytes exceeds the limit of 1048576',
      },
    ]);
    t.ok(
      peak() - before < 16 * MiB,
      `no allocation for announced lengths (RSS +${(peak() - before) / MiB} MiB)`,
    );
  });

  t.test(
    'a length just under the cap with little behind it: waits, allocates nothing, times out',
    async (t) => {
      const before = rss(pid);
      // 50 connections each announcing 1 MiB of argument and sending 10 bytes.
      const results = await Promise.all(
        Array.from({ length: 50 }, () =>
          converse(
            port,
            Buffer.concat([
              stringFrame(T.WORKING_DIRECTORY, ''),
              valueFrame(T.COMMAND_ARGUMENT, MiB),
              Buffer.alloc(10),
            ]),
          ),
        ),
      );
      t.ok(peak() - before < 32 * MiB, `50 announced MiB cost ${((peak() - before) / MiB).toFixed(1)} MiB`);
      for (const result of results) {
        t.equal(refusal(result).message, 'k8psh: request not completed in time\n');
        t.ok(result.ms >= REQUEST_TIMEOUT_MS - 100, 'refused at the request timeout');
      }
      t.notOk(existsSync(marker));
    },
  );

  t.test('frames out of order', async (t) => {
    const wd = stringFrame(T.WORKING_DIRECTORY, '');
    await refuseAll(t, port, marker, [
      {
        name: 'stdin before START_COMMAND',
        bytes: Buffer.concat([wd, stringFrame(T.STDIN_DATA, 'data'), stringFrame(T.START_COMMAND, 'marker')]),
        message: 'protocol error: STDIN_DATA before START_COMMAND',
      },
      {
        name: 'end of stdin before START_COMMAND',
        bytes: Buffer.concat([wd, stringFrame(T.STDIN_DATA, ''), stringFrame(T.START_COMMAND, 'marker')]),
        message: 'protocol error: STDIN_DATA before START_COMMAND',
      },
      {
        name: 'START_COMMAND twice (in one write)',
        bytes: Buffer.concat([start, stringFrame(T.START_COMMAND, 'marker')]),
        message: 'protocol error: START_COMMAND after START_COMMAND',
      },
      {
        name: 'a second working directory',
        bytes: Buffer.concat([wd, wd, stringFrame(T.START_COMMAND, 'marker')]),
        message: 'protocol error: a second WORKING_DIRECTORY',
      },
      {
        name: 'a working directory after START_COMMAND (in one write)',
        bytes: Buffer.concat([start, wd]),
        message: 'protocol error: WORKING_DIRECTORY after START_COMMAND',
      },
      {
        name: 'an argument after START_COMMAND (in one write)',
        bytes: Buffer.concat([start, stringFrame(T.COMMAND_ARGUMENT, 'x')]),
        message: 'protocol error: COMMAND_ARGUMENT after START_COMMAND',
      },
      {
        name: 'TERMINATE_COMMAND before START_COMMAND',
        bytes: Buffer.concat([valueFrame(T.TERMINATE_COMMAND, 0), start]),
        message: 'protocol error: TERMINATE_COMMAND before START_COMMAND',
      },
      {
        name: 'SIGNAL before START_COMMAND',
        bytes: Buffer.concat([valueFrame(T.SIGNAL, 15), start]),
        message: 'protocol error: SIGNAL before START_COMMAND',
      },
      {
        name: 'EXIT_CODE from a client',
        bytes: Buffer.concat([valueFrame(T.EXIT_CODE, 0), start]),
        message: 'protocol error: unexpected EXIT_CODE from a client',
      },
      {
        name: 'STDOUT_DATA from a client',
        bytes: Buffer.concat([wd, stringFrame(T.STDOUT_DATA, 'x'), start]),
        message: 'protocol error: unexpected STDOUT_DATA from a client',
      },
      {
        name: 'ERROR from a client',
        bytes: Buffer.concat([stringFrame(T.ERROR, 'x'), start]),
        message: 'protocol error: unexpected ERROR from a client',
      },
      {
        name: 'HELLO after another frame',
        bytes: Buffer.concat([wd, hello(), start]),
        message: 'protocol error: HELLO must be the first frame',
        only: 'legacy',
      },
      {
        name: 'HELLO twice',
        bytes: Buffer.concat([hello(), start]),
        message: 'protocol error: HELLO must be the first frame',
        only: 'modern',
      },
      {
        name: 'a malformed HELLO',
        bytes: Buffer.concat([stringFrame(T.HELLO, 'not-hello!'), start]),
        message: 'protocol error: malformed HELLO frame',
        only: 'legacy',
      },
      {
        name: 'a variable without "="',
        bytes: Buffer.concat([
          wd,
          stringFrame(T.ENVIRONMENT_VARIABLE, 'NO\nEQUALS'),
          stringFrame(T.START_COMMAND, 'marker'),
        ]),
        message: 'protocol error: malformed environment variable "NO?EQUALS"',
      },
      {
        name: 'a malformed TTY_REQUEST',
        bytes: Buffer.concat([stringFrame(T.TTY_REQUEST, 'x'), start]),
        message: 'protocol error: malformed TTY_REQUEST frame',
      },
    ]);
  });

  t.test('random bytes (seeded, replayable)', async (t) => {
    const seeds = Array.from({ length: 40 }, (_, i) => 1000 + i);
    const results = await Promise.all(
      seeds.flatMap((seed) =>
        [false, true].map(async (modern) => {
          const noise = randomBytes(seed, 1 + ((seed * 7919) % 8192));
          const result = await converse(port, modern ? Buffer.concat([hello(), noise]) : noise, {
            timeoutMs: REQUEST_TIMEOUT_MS + 8000,
          });
          return { seed, modern, result };
        }),
      ),
    );
    for (const { seed, modern, result } of results) {
      const r = refusal(result);
      const what = `seed ${seed} (${modern ? 'new' : 'old'} client)`;
      t.ok(result.closed, `${what}: closed`);
      t.ok(r.code !== undefined && r.code !== 0, `${what}: a failing EXIT_CODE (${r.code})`);
      t.equal(r.types[r.types.length - 1], T.EXIT_CODE, `${what}: EXIT_CODE is the last frame`);
      if (!modern)
        t.ok(
          r.types.every((type) => type <= 8),
          `${what}: only frames 0-8 to an old client`,
        );
      t.match(r.message, /\S/, `${what}: a message (${r.message.trim()})`);
    }
    t.notOk(existsSync(marker), 'nothing ran');
  });

  t.test('over the default caps', async (t) => {
    const wd = stringFrame(T.WORKING_DIRECTORY, '');
    const megabyte = 'a'.repeat(MiB);
    await refuseAll(
      t,
      port,
      marker,
      [
        {
          name: '65537 arguments',
          bytes: Buffer.concat([
            wd,
            ...Array.from({ length: 65537 }, () => stringFrame(T.COMMAND_ARGUMENT, 'a')),
          ]),
          message: 'protocol error: too many arguments (the limit is 65536)',
        },
        {
          name: '7 MiB of arguments',
          bytes: Buffer.concat([
            wd,
            ...Array.from({ length: 7 }, () => stringFrame(T.COMMAND_ARGUMENT, megabyte)),
          ]),
          message: 'protocol error: arguments exceed 6291456 bytes',
        },
        {
          name: '4097 environment variables',
          bytes: Buffer.concat([
            wd,
            ...Array.from({ length: 4097 }, (_, i) => stringFrame(T.ENVIRONMENT_VARIABLE, `V${i}=x`)),
          ]),
          message: 'protocol error: too many environment variables (the limit is 4096)',
        },
        {
          name: '5 MiB of environment',
          bytes: Buffer.concat([
            wd,
            ...Array.from({ length: 5 }, (_, i) =>
              stringFrame(T.ENVIRONMENT_VARIABLE, `V${i}=${megabyte.slice(4)}`),
            ),
          ]),
          message: 'protocol error: environment exceeds 4194304 bytes',
        },
        {
          name: 'one argument of 1 MiB + 1',
          bytes: Buffer.concat([wd, stringFrame(T.COMMAND_ARGUMENT, `${megabyte}a`)]),
          message: 'protocol error: frame of 1048577 bytes exceeds the limit of 1048576',
        },
      ],
      { oneAtATime: true },
    );
  });

  t.test('within the caps but too long for execve: refused with E2BIG, the server goes on', async (t) => {
    const big = 'b'.repeat(200 * 1024);
    await refuseAll(t, port, marker, [
      {
        name: 'arguments of 200 KiB each',
        bytes: request('marker', { args: [big, big, big] }),
        message: 'cannot run the command: its arguments and environment are too long for the system (E2BIG)',
        code: 126,
      },
    ]);
  });

  t.test('the server is unharmed', async (t) => {
    await normalSession(t, ws);
    t.equal(server.process.exitCode, null, 'still running');
    t.ok(peak() < RSS_LIMIT, `peak RSS ${(peak() / MiB).toFixed(1)} MiB < 150 MiB`);
    t.notMatch(server.stderr(), /internal error/, 'no exception escaped a session');
    t.notOk(existsSync(marker), 'the marker command never ran');
    const proper = await run(join(ws.bin, 'marker'), [], { env: ws.env, cwd: ws.dir });
    t.equal(proper.out, 'ran\n');
    t.ok(existsSync(marker), 'asked properly, the marker command does create the file: the proof is sound');
  });
});

t.test(
  'requests in progress are capped all together (--max-request-bytes)',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const { port, marker, ws } = await setUp(t, ['--max-request-bytes', '100000']);
    // Two clients each half-way through 60000 bytes of arguments: together over the budget.
    const partial = Buffer.concat([
      stringFrame(T.WORKING_DIRECTORY, ''),
      stringFrame(T.COMMAND_ARGUMENT, 'x'.repeat(60000)),
    ]);
    const first = converse(port, Buffer.concat([hello(), partial]));
    await sleep(300);
    const second = await converse(port, Buffer.concat([hello(), partial]));
    t.equal(refusal(second).message, 'server srv is busy (more than 100000 bytes of requests in progress)');
    t.equal(refusal(second).code, 1);
    t.ok(second.ms < REQUEST_TIMEOUT_MS, 'at once');
    const firstResult = await first;
    t.equal(refusal(firstResult).message, 'request not completed in time', 'the first one is unaffected');
    t.notOk(existsSync(marker));
    // Both gone: their bytes are given back.
    await normalSession(t, ws);
    const full = await converse(port, Buffer.concat([hello(), partial, stringFrame(T.START_COMMAND, 'ok')]));
    t.equal(refusal(full).code, 0, 'a request of 60000 bytes runs again');
    // A running command is no longer a request in progress: two of them side by side.
    const [slow, beside] = await Promise.all([
      converse(port, Buffer.concat([hello(), partial, stringFrame(T.START_COMMAND, 'slow')])),
      sleep(300).then(() =>
        converse(port, Buffer.concat([hello(), partial, stringFrame(T.START_COMMAND, 'ok')])),
      ),
    ]);
    t.equal(refusal(slow).code, 0);
    t.equal(refusal(beside).code, 0, 'a second big request while the first command runs');
  },
);

t.test('configured caps: each with a clear message', { skip: SKIP_UNBUILT }, async (t) => {
  const { port, marker, ws, peak } = await setUp(t, [
    '--max-arguments',
    '100',
    '--max-argument-bytes',
    '5000',
    '--max-environment-variables',
    '10',
    '--max-environment-bytes',
    '1000',
    '--max-frame-size',
    '4096',
  ]);
  const args = (n: number, size = 1) => Array.from({ length: n }, () => 'a'.repeat(size));
  const vars = (n: number, size = 1) => Array.from({ length: n }, (_, i) => `V${i}=${'v'.repeat(size)}`);
  await refuseAll(t, port, marker, [
    {
      name: '101 arguments',
      bytes: request('marker', { args: args(101) }),
      message: 'protocol error: too many arguments (the limit is 100)',
    },
    {
      name: '6000 bytes of arguments',
      bytes: request('marker', { args: args(2, 3000) }),
      message: 'protocol error: arguments exceed 5000 bytes',
    },
    {
      name: '11 environment variables',
      bytes: request('marker', { env: vars(11) }),
      message: 'protocol error: too many environment variables (the limit is 10)',
    },
    {
      name: '1200 bytes of environment',
      bytes: request('marker', { env: vars(2, 600) }),
      message: 'protocol error: environment exceeds 1000 bytes',
    },
    {
      name: 'an argument of 5000 bytes',
      bytes: request('marker', { args: args(1, 5000) }),
      message: 'protocol error: frame of 5000 bytes exceeds the limit of 4096',
    },
  ]);
  t.test('at the caps exactly: runs', async (t) => {
    const r = await converse(
      port,
      Buffer.concat([hello(), request('ok', { args: args(100, 50), env: vars(10) })]),
    );
    const out = Buffer.concat(r.frames.filter((f) => f.type === T.STDOUT_DATA).map((f) => f.payload!));
    t.equal(out.toString(), `ok ${args(100, 50).join(' ')}\n`);
    t.equal(refusal(r).code, 0);
    await normalSession(t, ws);
    t.ok(peak() < RSS_LIMIT);
  });
  t.test('a cap of zero or less is a usage error (every rule: test/server/options.test.ts)', async (t) => {
    const r = await run(DAEMON, ['--max-arguments', '0', '--name', 'x'], {
      env: ws.env,
      cwd: ws.dir,
    });
    t.equal(r.code, 1);
    t.equal(r.err, 'k8pshd: --max-arguments must be an integer from 1 to 9007199254740991, not "0"\n');
  });
});
