/**
 * The server's turnaround for a direct `true` (docs/benchmarks.md): a client in this process passes
 * /dev/null as stdin, stdout and stderr over the local socket, as a stub does, and times the request's
 * sendmsg → EXIT_CODE. The request goes `gap` ms after connecting (a stub connects, then encodes
 * and sends): a server that polls for the first bytes shows it there. Servers (built `k8psh`
 * binaries) are measured interleaved, each gap in turn, round after round.
 *
 *   npx node scripts/measure-turnaround.mjs [--rounds N] [--gaps 0,1,10,100] [--client c] NAME=BINARY...
 *
 * `--client c` measures with scripts/turnaround.c instead (compiled here with gcc): a client as
 * tight as the native stub, so that the figure is the server's alone.
 *
 * Run it with `env -u NODE_EXTRA_CA_CERTS` (NOTES.md) and Node 24 (`npx node`), whose servers bind
 * the abstract name Node 24's way.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { interleave } from '../bench/lib/interleave.mjs';
import { startTarget } from '../bench/lib/target.mjs';
import { CLIENT_FEATURES, ClientSession, encodeRequest, Feature, localSocketPath } from './lib/protocol.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '200' },
    gaps: { type: 'string', default: '0,1,10,100' },
    client: { type: 'string', default: 'node' },
  },
});
const rounds = Number(values.rounds);
const gaps = values.gaps.split(',').map(Number);
const servers = positionals.map((arg) => {
  const [name, binary] = arg.split('=');
  if (
    !name ||
    !binary ||
    !(rounds > 0) ||
    gaps.some((gap) => !(gap >= 0)) ||
    !['node', 'c'].includes(values.client)
  )
    throw new Error(
      'usage: measure-turnaround.mjs [--rounds N] [--gaps 0,1,10] [--client node|c] NAME=BINARY...',
    );
  return { name, binary: resolve(binary) };
});

const module = { exports: {} };
process.dlopen(module, new URL('../native/syscalls/build/Release/syscalls.node', import.meta.url).pathname);
const addon = module.exports;

/** A stub's request for a direct `true`, its descriptors passed: the client's own encoder. */
const requestBytes = encodeRequest({
  hello: true,
  features: CLIENT_FEATURES | Feature.PASSED_STDIO,
  workingDirectory: '',
  arguments: [],
  environment: [],
  command: 'true',
});
const stdio = [openSync('/dev/null', 'r'), openSync('/dev/null', 'w'), openSync('/dev/null', 'w')];
const reply = Buffer.alloc(4096);

/** Busy-waits: a timer's millisecond granularity would be the gap's error. */
function spin(ms) {
  const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
  while (process.hrtime.bigint() < end);
}

/** ms from the request's sendmsg to its EXIT_CODE (the socket is blocking: readSync waits). */
function turnaround(port, gap) {
  const fd = addon.connect(localSocketPath(port));
  if (fd < 0) throw new Error(`connect: errno ${-fd}`);
  try {
    let code = null;
    const session = new ClientSession({
      onExit: (status) => (code = status),
      onServerError: (message) => {
        throw new Error(`server: ${message}`);
      },
      onProtocolError: (message) => {
        throw new Error(message);
      },
    });
    spin(gap);
    const start = process.hrtime.bigint();
    if (addon.send(fd, requestBytes, stdio) !== requestBytes.length) throw new Error('short send');
    while (code === null) {
      const bytes = readSync(fd, reply, 0, reply.length, null);
      if (bytes === 0) throw new Error('closed before EXIT_CODE');
      session.receive(reply.subarray(0, bytes));
    }
    if (code !== 0) throw new Error(`true exited ${code}`);
    return Number(process.hrtime.bigint() - start) / 1e6;
  } finally {
    closeSync(fd);
  }
}

const scratch = mkdtempSync(join(tmpdir(), 'k8psh-turnaround-'));
const targets = [];
try {
  for (const { name, binary } of servers) targets.push(await startTarget(name, binary, scratch, 500));
  if (values.client === 'c') await measureWithC(targets);
  else await measureWithNode(targets);
} finally {
  for (const target of targets) await target.stop();
  rmSync(scratch, { recursive: true, force: true });
}

/** Every server and gap interleaved, measured by the client in this process. */
async function measureWithNode(list) {
  const cases = list.flatMap((target) => gaps.map((gap) => ({ target, gap })));
  const results = await interleave(cases, rounds, async ({ target, gap }) => turnaround(target.port, gap), {
    warmUp: 5,
  });
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const p90 = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.9)];
  console.log(`send → EXIT_CODE of a direct \`true\`, ms (${rounds} interleaved rounds): median / p90`);
  console.log(['gap ms', ...list.map((target) => target.name)].join('\t'));
  for (const gap of gaps)
    console.log(
      [
        gap,
        ...list.map((target) => {
          const values = results[cases.findIndex((c) => c.target === target && c.gap === gap)];
          return `${median(values).toFixed(2)} / ${p90(values).toFixed(2)}`;
        }),
      ].join('\t'),
    );
}

/**
 * Each gap in turn, the servers interleaved inside scripts/turnaround.c; with perf installed, also
 * each server's own CPU time per session (`perf stat -i -e task-clock -p PID`: its threads, not
 * the commands it starts), far steadier than wall time on a shared machine.
 */
async function measureWithC(list) {
  const client = join(scratch, 'turnaround');
  const source = new URL('./turnaround.c', import.meta.url).pathname;
  const built = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', client, source], {
    stdio: 'inherit',
  });
  if (built.status !== 0) throw new Error('cannot compile scripts/turnaround.c');
  const perf = ['/usr/bin/perf', '/usr/local/bin/perf'].find((file) => existsSync(file));
  console.log(
    `send → EXIT_CODE of a direct \`true\`, ms (${rounds} interleaved rounds, C client): median / p90` +
      (perf ? '; server CPU ms per session' : ''),
  );
  console.log(['gap ms', ...list.map((target) => target.name)].join('\t'));
  for (const gap of gaps) {
    const counters = perf
      ? list.map((target, i) => {
          const file = join(scratch, `perf-${i}`);
          const counter = spawn(
            perf,
            ['stat', '-i', '-x,', '-e', 'task-clock', '-o', file, '-p', String(target.pid)],
            {
              stdio: 'ignore',
            },
          );
          return { file, exited: new Promise((resolve) => counter.once('exit', resolve)), counter };
        })
      : [];
    await new Promise((resolve) => setTimeout(resolve, 300)); // perf attached
    const ports = list.map((target) => String(target.port));
    const result = await new Promise((resolve) => {
      const child = spawn(client, [String(rounds), String(Math.round(gap * 1000)), ...ports]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.once('close', (status) => resolve({ status, stdout, stderr }));
    });
    for (const { counter } of counters) counter.kill('SIGINT');
    await Promise.all(counters.map(({ exited }) => exited));
    if (result.status !== 0) throw new Error(`turnaround: ${result.stderr.trim()}`);
    const rows = result.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(' ').map(Number));
    const cpu = counters.map(({ file }) => {
      const line = readFileSync(file, 'utf8')
        .split('\n')
        .find((l) => l.includes('task-clock'));
      // Three warm-up rounds run too.
      return Number(line?.split(',')[0]) / (rounds + 3);
    });
    console.log(
      [
        gap,
        ...rows.map(
          ([, median, p90], i) =>
            `${median.toFixed(2)} / ${p90.toFixed(2)}` + (perf ? `; cpu ${cpu[i].toFixed(3)}` : ''),
        ),
      ].join('\t'),
    );
  }
}
