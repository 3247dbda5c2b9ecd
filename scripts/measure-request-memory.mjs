/**
 * The server's memory under a request flood, and after it (docs/limits.md, "Memory under a request
 * flood"): rounds of concurrent connections each sending a large request that never ends, until
 * --max-request-bytes (32 MiB by default) refuses the rest; then idle. VmRSS of the server at the
 * start (after one normal session), its peak (sampled every 20 ms) and after some seconds idle,
 * with the anonymous / file-backed split of /proc/PID/smaps_rollup.
 *
 *   env -u NODE_EXTRA_CA_CERTS node scripts/measure-request-memory.mjs [--rounds 10]
 *     [--connections 48] [--idle 1.5,5,15,30] [--kinds big,many,env,bigenv] [BINARY]
 *
 * BINARY is a built k8psh or k8pshd (default dist/k8pshd). Each connection sends one of the kinds
 * in turn, about 4 MiB each: `big` 4 arguments of the 1 MiB frame cap, `many` 60000 arguments of 64
 * bytes, `env` 4000 variables of 1000 bytes, `bigenv` 3 variables of 1 MiB. A round ends once every
 * connection was refused or has had 300 ms after its last byte; then they all close.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, sleep, waitForPort } from '../test/lib/net.mjs';
import { encodeString, FrameType } from './lib/protocol.mjs';

const MiB = 1 << 20;
const { WORKING_DIRECTORY, ENVIRONMENT_VARIABLE, COMMAND_ARGUMENT, START_COMMAND } = FrameType;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '48' },
    idle: { type: 'string', default: '1.5,5,15,30' },
    kinds: { type: 'string', default: 'big,many,env,bigenv' },
  },
});
const rounds = Number(values.rounds);
const connections = Number(values.connections);
const idle = values.idle.split(',').map(Number);
const binary = resolve(positionals[0] ?? new URL('../dist/k8pshd', import.meta.url).pathname);

const wd = encodeString(WORKING_DIRECTORY, '');
const frames = (count, make) => Buffer.concat([wd, ...Array.from({ length: count }, (_, i) => make(i))]);
const KINDS = {
  big: () => frames(4, () => encodeString(COMMAND_ARGUMENT, Buffer.alloc(MiB, 'a'))),
  many: () => frames(60_000, (i) => encodeString(COMMAND_ARGUMENT, `arg-${i}-`.padEnd(64, 'x'))),
  env: () => frames(4000, (i) => encodeString(ENVIRONMENT_VARIABLE, `V${i}=`.padEnd(1000, 'v'))),
  bigenv: () => frames(3, (i) => encodeString(ENVIRONMENT_VARIABLE, `B${i}=`.padEnd(MiB, 'v'))),
};
const kinds = values.kinds.split(',');
if (!(rounds > 0) || !(connections > 0) || idle.some((s) => !(s >= 0)) || kinds.some((k) => !KINDS[k]))
  throw new Error(
    'usage: measure-request-memory.mjs [--rounds N] [--connections N] [--idle S,S] [--kinds K,K] [BINARY]',
  );
const requests = kinds.map((kind) => KINDS[kind]());

const mib = (bytes) => (bytes / MiB).toFixed(1);
const vmRss = (pid) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
function split(pid) {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return `anonymous ${mib(field('Anonymous'))}, file ${mib(field('Rss') - field('Anonymous'))}`;
}

/** Resolves once the server refused (closed) the connection, or 300 ms after the last byte went. */
function send(port, bytes) {
  return new Promise((resolveSent) => {
    const socket = connect({ host: '127.0.0.1', port });
    let refused = false;
    socket.on('data', () => (refused = true));
    socket.on('error', () => {});
    socket.on('close', () => resolveSent({ socket, refused }));
    socket.on('connect', () =>
      socket.write(bytes, () => setTimeout(() => resolveSent({ socket, refused }), 300)),
    );
  });
}

const port = await freePort();
const dir = mkdtempSync(join(tmpdir(), 'k8psh-request-memory-'));
writeFileSync(join(dir, 'k8psh.conf'), `[ srv:${port} ]\nok /bin/echo ok\n`);
const server = spawn(binary, ['--config', join(dir, 'k8psh.conf'), '--name', 'srv', '-d'], {
  cwd: dir,
  stdio: 'ignore',
});
const stop = () => {
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  stop();
  process.exit(130);
});
try {
  await waitForPort(port, 20000, () => server.exitCode !== null);
  const pid = server.pid;
  // One normal session first, so that its code is in, as it would be in a server that has worked.
  await send(port, Buffer.concat([wd, encodeString(START_COMMAND, 'ok')]));
  await sleep(1500);
  const start = vmRss(pid);
  console.log(`start: ${mib(start)} MiB (${split(pid)})`);
  let peak = start;
  const sampler = setInterval(() => (peak = Math.max(peak, vmRss(pid))), 20);
  const began = Date.now();
  for (let round = 1; round <= rounds; round++) {
    const sent = await Promise.all(
      Array.from({ length: connections }, (_, i) => send(port, requests[i % requests.length])),
    );
    for (const { socket } of sent) socket.destroy();
    const refused = sent.filter((s) => s.refused).length;
    console.log(`round ${round}: ${refused} of ${connections} refused, ${mib(vmRss(pid))} MiB`);
  }
  clearInterval(sampler);
  const ended = Date.now();
  console.log(`peak: ${mib(peak)} MiB (the load took ${ended - began} ms)`);
  for (const seconds of idle) {
    await sleep(ended + seconds * 1000 - Date.now());
    console.log(`after ${seconds} s idle: ${mib(vmRss(pid))} MiB (${split(pid)})`);
  }
} finally {
  stop();
}
