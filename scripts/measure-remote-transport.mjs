/**
 * Measures the candidate transports between a Pod-local gateway and a remote k8psh server
 * (issue 24, docs/remote.md "The mechanism"): mTLS 1.3 with client certificates everywhere.
 *
 *   node scripts/measure-remote-transport.mjs [--rounds N] [--quick] [--json] [--bulk-mib N]
 *     [--bulk-rounds N] [--pool N] [--concurrency N] [--loopback] [--timeout SECONDS]
 *
 * A "server" and a "gateway" process run in two network namespaces made here (a veth pair,
 * 10.201.0.1/30 and 10.201.0.2/30, no route out) when run as root and `ip netns` works, otherwise
 * both on loopback (the output says which). Certificates (a CA, a server certificate with a SAN,
 * a client certificate) are made by Debian's openssl in a temporary directory removed at the end.
 *
 * Per call, interleaved round by round so machine noise hits every mechanism alike:
 *   tcp      a framed 200-byte request and reply on an established plain TCP socket (the floor)
 *   fresh    a new TLS 1.3 connection with client certificate per call: handshake, request,
 *            reply, close (what a call pays without a gateway)
 *   h2       a stream on an established node:http2 session: POST with a body, reply body, end
 *   pool     a socket taken from a warm pool of established TLS sockets, framed request/reply
 * Then 200 concurrent calls (h2 streams on one session, a pool of --pool sockets, a pool with a
 * socket per call), bulk server→client (HTTP/2 streams with default and larger windows/frames,
 * one TLS socket), and the gateway side's RssAnon idle with one session or a pool.
 *
 * The processes run on the same machine: their CPU is shared, and so are the figures' noise.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const MiB = 1 << 20;
const REQUEST_BYTES = 200;
const REPLY_BYTES = 200;
const SERVER_NAME = 'tools.measure';
const CHUNK = Buffer.alloc(256 * 1024, 'x');
const script = fileURLToPath(import.meta.url);

let values;
try {
  ({ values } = parseArgs({
    options: {
      role: { type: 'string' },
      config: { type: 'string' },
      rounds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'bulk-mib': { type: 'string' },
      'bulk-rounds': { type: 'string' },
      pool: { type: 'string', default: '32' },
      concurrency: { type: 'string', default: '200' },
      loopback: { type: 'boolean', default: false },
      timeout: { type: 'string' },
    },
  }));
} catch (error) {
  fail(`${error.message}`, 2);
}

function fail(message, code = 1) {
  process.stderr.write(`measure-remote-transport: ${message}\n`);
  process.exit(code);
}

// ---------------------------------------------------------------------------------------------
// Shared: framing on a byte stream (1 type byte, 4 length bytes, body), TLS material.

function frame(type, body) {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeUInt32BE(body.length, 1);
  return Buffer.concat([header, body]);
}

/** Calls `onFrame(type, body)` for every whole frame arriving on `socket`. */
function readFrames(socket, onFrame) {
  let pending = Buffer.alloc(0);
  socket.on('data', (data) => {
    pending = pending.length ? Buffer.concat([pending, data]) : data;
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      const length = pending.readUInt32BE(1);
      const type = pending.toString('latin1', 0, 1);
      const body = pending.subarray(5, 5 + length);
      pending = pending.subarray(5 + length);
      onFrame(type, body);
    }
  });
}

function material(dir, who) {
  return {
    key: readFileSync(join(dir, `${who}.key`)),
    cert: readFileSync(join(dir, `${who}.crt`)),
    ca: readFileSync(join(dir, 'ca.crt')),
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
  };
}

/** Writes `bytes` bytes of payload, waiting for 'drain' whenever the stream says so. */
async function writeBulk(stream, bytes) {
  let left = bytes;
  while (left > 0) {
    const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
    left -= chunk.length;
    if (!stream.write(chunk))
      await new Promise((resolve) => {
        const done = () => {
          stream.off('drain', done);
          stream.off('close', done);
          resolve();
        };
        stream.on('drain', done);
        stream.on('close', done);
      });
    if (stream.destroyed) return;
  }
  stream.end();
}

/** A child exits when its parent goes: its stdin is a pipe from the parent. */
function exitWithParent() {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

// ---------------------------------------------------------------------------------------------
// The server: a plain TCP port, a TLS port (framed calls and bulk), an HTTP/2 port.

function serveFramed(socket) {
  socket.on('error', () => {});
  readFrames(socket, (type, body) => {
    if (type === 'C') socket.write(frame('R', Buffer.alloc(REPLY_BYTES, 'r')));
    else if (type === 'B') void writeBulk(socket, Number(body.toString()));
  });
}

async function runServer(config) {
  const options = { ...material(config.dir, 'server'), requestCert: true, rejectUnauthorized: true };
  const plain = net.createServer(serveFramed);
  const secure = tls.createServer(options, serveFramed);
  secure.on('tlsClientError', () => {});
  const h2 = http2.createSecureServer(options);
  h2.on('sessionError', () => {});
  h2.on('session', (session) => session.on('error', () => {}));
  h2.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    if (headers[':path'] === '/bulk') {
      stream.respond({ ':status': 200 });
      void writeBulk(stream, Number(headers['x-bytes']));
      return;
    }
    let received = 0;
    stream.on('data', (data) => (received += data.length));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'x-received': String(received) });
      stream.end(Buffer.alloc(REPLY_BYTES, 'r'));
    });
  });
  const listen = (server) =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: config.host, port: 0 }, () => resolve(server.address().port));
    });
  const ports = { tcp: await listen(plain), tls: await listen(secure), h2: await listen(h2) };
  process.stdout.write(`${JSON.stringify({ ready: true, ports })}\n`);
  exitWithParent();
}

// ---------------------------------------------------------------------------------------------
// The gateway side: connections and one call on each kind of them.

function clientOptions(config) {
  return { ...material(config.dir, 'client'), servername: SERVER_NAME };
}

function connectTls(config) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: config.host, port: config.ports.tls, ...clientOptions(config) });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

function connectTcp(config) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: config.host, port: config.ports.tcp });
    socket.setNoDelay(true);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** One outstanding call at a time on an established socket. */
function caller(socket) {
  let waiting = null;
  readFrames(socket, (type, body) => {
    const w = waiting;
    waiting = null;
    if (type === 'R' && body.length === REPLY_BYTES) w?.resolve();
    else w?.reject(new Error(`bad reply ${type} ${body.length}`));
  });
  const lost = (error) => {
    const w = waiting;
    waiting = null;
    w?.reject(error instanceof Error ? error : new Error('connection closed'));
  };
  socket.on('error', lost);
  socket.on('close', lost);
  const request = frame('C', Buffer.alloc(REQUEST_BYTES, 'q'));
  return {
    socket,
    call: () =>
      new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        socket.write(request);
      }),
  };
}

/** A warm pool: a call takes a free socket, or waits for one. */
function pool(callers) {
  const free = [...callers];
  const waiters = [];
  return {
    callers,
    async call() {
      const c = free.pop() ?? (await new Promise((resolve) => waiters.push(resolve)));
      try {
        await c.call();
      } finally {
        const next = waiters.shift();
        if (next) next(c);
        else free.push(c);
      }
    },
  };
}

/** A call without a gateway: handshake, request, reply, close. */
function freshCall(config) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: config.host, port: config.ports.tls, ...clientOptions(config) });
    const c = caller(socket);
    socket.once('secureConnect', () =>
      c.call().then(
        () => socket.end(),
        (error) => reject(error),
      ),
    );
    socket.once('error', reject);
    socket.once('close', resolve);
  });
}

function connectH2(config, settings = {}, windowSize = 0) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://${config.host}:${config.ports.h2}`, {
      ...clientOptions(config),
      settings,
    });
    session.once('connect', () => {
      if (windowSize) session.setLocalWindowSize(windowSize);
      resolve(session);
    });
    session.once('error', reject);
  });
}

function h2Call(session) {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': '/call' });
    let received = 0;
    stream.on('data', (data) => (received += data.length));
    stream.on('end', () =>
      received === REPLY_BYTES ? resolve() : reject(new Error(`h2 reply of ${received} bytes`)),
    );
    stream.on('error', reject);
    stream.end(Buffer.alloc(REQUEST_BYTES, 'q'));
  });
}

function h2Bulk(session, bytes) {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'GET', ':path': '/bulk', 'x-bytes': String(bytes) });
    let received = 0;
    stream.on('data', (data) => (received += data.length));
    stream.on('end', () =>
      received === bytes ? resolve() : reject(new Error(`h2 bulk: ${received} bytes`)),
    );
    stream.on('error', reject);
    stream.end();
  });
}

/** The bulk socket is established before the clock starts. */
async function tlsBulk(config, bytes) {
  const socket = await connectTls(config);
  const start = process.hrtime.bigint();
  await new Promise((resolve, reject) => {
    let received = 0;
    socket.on('data', (data) => (received += data.length));
    socket.on('end', () => {
      socket.destroy();
      if (received === bytes) resolve();
      else reject(new Error(`tls bulk: ${received} bytes`));
    });
    socket.on('error', reject);
    socket.write(frame('B', Buffer.from(String(bytes))));
  });
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function timed(fn) {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

// HTTP/2 settings for bulk: Node's defaults (64 KiB windows, 16 KiB frames), larger windows, and
// larger windows with larger frames. The receiver's windows limit what the server may send.
const BIG_WINDOW = 32 * MiB;
const H2_BULK = {
  'h2 default': { settings: {}, window: 0 },
  'h2 window': { settings: { initialWindowSize: 8 * MiB }, window: BIG_WINDOW },
  'h2 window+frame': { settings: { initialWindowSize: 8 * MiB, maxFrameSize: MiB }, window: BIG_WINDOW },
};

async function runGateway(config) {
  const tcp = caller(await connectTcp(config));
  const callSession = await connectH2(config, H2_BULK['h2 window'].settings, BIG_WINDOW);
  const connectPool = async (size) => {
    const callers = [];
    for (let i = 0; i < size; i++) callers.push(caller(await connectTls(config)));
    return pool(callers);
  };
  const warm = await connectPool(config.pool);
  const perCall = await connectPool(config.concurrency);
  const calls = {
    tcp: () => tcp.call(),
    fresh: () => freshCall(config),
    h2: () => h2Call(callSession),
    pool: () => warm.call(),
  };
  const samples = Object.fromEntries(Object.keys(calls).map((k) => [k, []]));
  for (let round = -Math.min(20, config.rounds); round < config.rounds; round++)
    for (const [name, call] of Object.entries(calls)) {
      const ms = await timed(call);
      if (round >= 0) samples[name].push(ms);
    }

  const concurrent = {
    [`h2 ${config.concurrency} streams`]: () => h2Call(callSession),
    [`pool ${config.pool}`]: () => warm.call(),
    [`pool ${config.concurrency}`]: () => perCall.call(),
  };
  const together = Object.fromEntries(Object.keys(concurrent).map((k) => [k, []]));
  for (let round = -1; round < config.concurrencyRounds; round++)
    for (const [name, call] of Object.entries(concurrent)) {
      const ms = await timed(() => Promise.all(Array.from({ length: config.concurrency }, call)));
      if (round >= 0) together[name].push(ms);
    }

  const bulkSessions = {};
  for (const [name, { settings, window }] of Object.entries(H2_BULK))
    bulkSessions[name] = await connectH2(config, settings, window);
  const bytes = config.bulkMiB * MiB;
  const bulk = Object.fromEntries([...Object.keys(H2_BULK), 'tls socket'].map((k) => [k, []]));
  for (let round = 0; round < config.bulkRounds; round++) {
    for (const [name, session] of Object.entries(bulkSessions))
      bulk[name].push(config.bulkMiB / ((await timed(() => h2Bulk(session, bytes))) / 1000));
    bulk['tls socket'].push(config.bulkMiB / ((await tlsBulk(config, bytes)) / 1000));
  }

  const cipher = warm.callers[0].socket.getCipher().name;
  const protocol = warm.callers[0].socket.getProtocol();
  for (const c of [tcp, ...warm.callers, ...perCall.callers]) c.socket.destroy();
  for (const session of [callSession, ...Object.values(bulkSessions)]) session.destroy();
  process.stdout.write(`${JSON.stringify({ samples, together, bulk, cipher, protocol })}\n`);
}

/** The gateway side's memory, idle: nothing connected, one HTTP/2 session, or a pool. */
async function runIdle(config) {
  const held = [];
  if (config.kind === 'h2') held.push(await connectH2(config, H2_BULK['h2 window'].settings, BIG_WINDOW));
  if (config.kind === 'pool') for (let i = 0; i < config.pool; i++) held.push(await connectTls(config));
  await new Promise((resolve) => setTimeout(resolve, 500));
  globalThis.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  process.stdout.write(`${JSON.stringify({ rssAnon: kib('RssAnon'), vmRss: kib('VmRSS') })}\n`);
  for (const h of held) h.destroy();
}

// ---------------------------------------------------------------------------------------------
// The orchestrator: certificates, namespaces, children, the table.

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000, ...options });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')}: ${(result.stderr || result.error?.message || '').trim()}`);
  return result.stdout;
}

function makeCertificates(dir, host) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(
    'openssl',
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=measure CA'],
    {
      cwd: dir,
    },
  );
  const leaf = (who, serial, extensions) => {
    writeFileSync(join(dir, `${who}.ext`), extensions);
    run(
      'openssl',
      ['req', ...ec, '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who}.measure`],
      {
        cwd: dir,
      },
    );
    run(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        `${who}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-set_serial',
        serial,
        '-days',
        '2',
      ].concat(['-extfile', `${who}.ext`, '-out', `${who}.crt`]),
      { cwd: dir },
    );
  };
  leaf('server', '2', `subjectAltName=DNS:${SERVER_NAME},IP:${host}\nextendedKeyUsage=serverAuth\n`);
  leaf('client', '3', 'subjectAltName=DNS:gateway.measure\nextendedKeyUsage=clientAuth\n');
}

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => {
    const i = (sorted.length - 1) * q;
    const lo = Math.floor(i);
    return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (i - lo);
  };
  return { n: sorted.length, min: sorted[0], p25: at(0.25), median: at(0.5), p75: at(0.75), max: at(1) };
}

async function orchestrate() {
  const quick = values.quick;
  const number = (name, fallback) => {
    const value = Number(values[name] ?? fallback);
    if (!Number.isInteger(value) || value <= 0)
      fail(`--${name} wants a positive integer, not ${values[name]}`, 2);
    return value;
  };
  const settings = {
    rounds: number('rounds', quick ? 30 : 500),
    bulkMiB: number('bulk-mib', quick ? 32 : 1024),
    bulkRounds: number('bulk-rounds', quick ? 1 : 3),
    pool: number('pool', 32),
    concurrency: number('concurrency', 200),
    concurrencyRounds: quick ? 3 : 20,
    rssRepeats: quick ? 1 : 3,
  };
  const timeoutSeconds = number('timeout', quick ? 50 : 1200);

  const id = `k8psh-mrt-${process.pid}`;
  const namespaces = [];
  const children = new Set();
  const dir = mkdtempSync(join(tmpdir(), 'k8psh-mrt-'));
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (signal) => {
    cleanup();
    process.stderr.write(`measure-remote-transport: ${signal}, cleaned up\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  const timer = setTimeout(() => {
    cleanup();
    fail(`no result within ${timeoutSeconds} s (--timeout)`);
  }, timeoutSeconds * 1000);

  try {
    // Namespaces when possible, loopback otherwise.
    let where = 'loopback';
    let host = '127.0.0.1';
    let prefix = { server: [], gateway: [] };
    let why = values.loopback ? '--loopback' : '';
    if (!values.loopback && process.getuid?.() === 0) {
      try {
        const [server, gateway] = [`${id}-srv`, `${id}-gw`];
        const [vs, vg] = [`mrt${process.pid}s`, `mrt${process.pid}g`];
        for (const ns of [server, gateway]) {
          run('ip', ['netns', 'add', ns]);
          namespaces.push(ns);
          run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
        }
        run('ip', ['link', 'add', vs, 'type', 'veth', 'peer', 'name', vg]);
        try {
          run('ip', ['link', 'set', vs, 'netns', server]);
          run('ip', ['link', 'set', vg, 'netns', gateway]);
        } catch (error) {
          spawnSync('ip', ['link', 'del', vs], { timeout: 10_000 });
          throw error;
        }
        run('ip', ['-n', server, 'addr', 'add', '10.201.0.1/30', 'dev', vs]);
        run('ip', ['-n', gateway, 'addr', 'add', '10.201.0.2/30', 'dev', vg]);
        run('ip', ['-n', server, 'link', 'set', vs, 'up']);
        run('ip', ['-n', gateway, 'link', 'set', vg, 'up']);
        prefix = { server: ['ip', 'netns', 'exec', server], gateway: ['ip', 'netns', 'exec', gateway] };
        where = 'netns';
        host = '10.201.0.1';
      } catch (error) {
        for (const ns of namespaces.splice(0)) spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
        why = `ip netns failed: ${error.message.split('\n')[0]}`;
      }
    } else if (!values.loopback) why = 'not root';
    makeCertificates(dir, host);

    // NODE_EXTRA_CA_CERTS would be loaded by every child (memory, start-up): none of ours need it.
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const start = (side, config, nodeFlags = []) => {
      const argv = [...prefix[side], process.execPath, ...nodeFlags, script, '--role', config.role];
      const child = spawn(argv[0], [...argv.slice(1), '--config', JSON.stringify(config)], {
        env,
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      children.add(child);
      return child;
    };
    const firstLine = (child, what) =>
      new Promise((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (data) => {
          out += data;
          const newline = out.indexOf('\n');
          if (newline >= 0) resolve(JSON.parse(out.slice(0, newline)));
        });
        child.once('exit', (code, signal) =>
          reject(new Error(`${what} exited (${signal ?? code}) without a result`)),
        );
        child.once('error', reject);
      });

    const server = start('server', { role: 'server', dir, host });
    const { ports } = await firstLine(server, 'the server');
    const base = { dir, host, ports, ...settings };
    const gateway = start('gateway', { ...base, role: 'gateway' });
    const result = await firstLine(gateway, 'the gateway');
    gateway.stdin.end();

    const rss = { none: [], h2: [], pool: [] };
    for (let i = 0; i < settings.rssRepeats; i++)
      for (const kind of Object.keys(rss)) {
        const child = start('gateway', { ...base, role: 'idle', kind }, ['--expose-gc']);
        const { rssAnon } = await firstLine(child, `the idle ${kind} gateway`);
        child.stdin.end();
        rss[kind].push(rssAnon / 1024);
      }
    server.stdin.end();

    const ms = (name, list) => ({ name, unit: 'ms', ...stats(list) });
    const rows = [
      ms('call: plain TCP, established (floor)', result.samples.tcp),
      ms('call: new mTLS 1.3 connection per call', result.samples.fresh),
      ms('call: HTTP/2 stream on one session', result.samples.h2),
      ms(`call: warm pool of ${settings.pool} TLS sockets`, result.samples.pool),
      ...Object.entries(result.together).map(([name, list]) =>
        ms(`${settings.concurrency} concurrent: ${name}`, list),
      ),
      ...Object.entries(result.bulk).map(([name, list]) => ({
        name: `bulk ${settings.bulkMiB} MiB: ${name}`,
        unit: 'MiB/s',
        ...stats(list),
      })),
      { name: 'idle RssAnon: modules, no connection', unit: 'MiB', ...stats(rss.none) },
      { name: 'idle RssAnon: one HTTP/2 session', unit: 'MiB', ...stats(rss.h2) },
      { name: `idle RssAnon: pool of ${settings.pool} TLS sockets`, unit: 'MiB', ...stats(rss.pool) },
    ];
    const report = {
      date: new Date().toISOString(),
      node: process.version,
      where,
      ...(why ? { loopbackBecause: why } : {}),
      host,
      tls: `${result.protocol} ${result.cipher}, P-256 certificates, client certificate required`,
      requestBytes: REQUEST_BYTES,
      replyBytes: REPLY_BYTES,
      h2BulkSettings: H2_BULK,
      ...settings,
      pids: [...children].map((child) => child.pid),
      rows,
    };
    if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else printTable(report);
  } finally {
    clearTimeout(timer);
    cleanup();
  }
}

function printTable(report) {
  const where =
    report.where === 'netns'
      ? 'two network namespaces joined by a veth pair'
      : `loopback (${report.loopbackBecause ?? 'namespaces unavailable'})`;
  console.log(`${report.date}  node ${report.node}  ${where}, server ${report.host}`);
  console.log(`${report.tls}; requests ${report.requestBytes} B, replies ${report.replyBytes} B`);
  const digits = (row, v) => (row.unit === 'ms' ? v.toFixed(3) : v.toFixed(1));
  const header = ['', 'unit', 'n', 'min', 'p25', 'median', 'p75', 'max'];
  const lines = report.rows.map((row) => [
    row.name,
    row.unit,
    String(row.n),
    ...['min', 'p25', 'median', 'p75', 'max'].map((k) => digits(row, row[k])),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((line) => line[i].length)));
  for (const line of [header, ...lines])
    console.log(
      line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '),
    );
}

const config = values.config ? JSON.parse(values.config) : {};
const roles = { server: runServer, gateway: runGateway, idle: runIdle };
if (values.role && !roles[values.role]) fail(`unknown --role ${values.role}`, 2);
const main = values.role ? roles[values.role] : orchestrate;
main(config).catch((error) => fail(error.message));
