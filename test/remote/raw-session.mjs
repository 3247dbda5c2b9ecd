/**
 * A k8psh session spoken by hand over HTTP/2 and mutual TLS, for the wire tests of the start's
 * confirmation (./confirm-start.test.ts; docs/remote.md, "Exactly once"). Run in the build node:
 *
 *   node raw-session.mjs ADDRESS:PORT TLS_DIR SERVER_NAME MODE COMMAND [ARG...]
 *
 * MODE: go (ask to confirm, answer START_READY with START_GO), nogo (ask, then cancel at START_READY),
 * plain (do not ask), go-unasked (do not ask, send START_GO all the same), hold (ask; at START_READY
 * print "ready" and send START_GO only when a line comes on stdin), partial (ask; send part of the
 * request, print "sent", wait for the stream's end). One JSON line on stdout says what happened.
 */
import { connect } from 'node:http2';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';

const [at, dir, serverName, mode, command, ...args] = process.argv.slice(2);
const [host, port] = [at.slice(0, at.lastIndexOf(':')), Number(at.slice(at.lastIndexOf(':') + 1))];
const file = (name) => readFileSync(`${dir}/${name}`);
const T = { WD: 0, ARG: 2, START: 3, STDIN: 4, STDOUT: 5, STDERR: 6, EXIT: 8, READY: 0x60, GO: 0x61 };

function frame(type, payload) {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : null;
  const out = Buffer.alloc(5 + (bytes ? bytes.length : 0));
  out[0] = type;
  out.writeUInt32LE(bytes ? bytes.length : (payload ?? 0), 1);
  if (bytes) bytes.copy(out, 5);
  return out;
}

const asked = mode !== 'plain' && mode !== 'go-unasked';
const session = connect(`https://${at}`, {
  createConnection: () =>
    tlsConnect({
      host,
      port,
      cert: file('tls.crt'),
      key: file('tls.key'),
      ca: file('ca.crt'),
      servername: serverName,
      ALPNProtocols: ['h2'],
    }),
});
const result = { ready: false, exit: null, stdout: '', stderr: '', confirmed: null, rstCode: null };
const done = () => {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  session.destroy();
  process.exit(0);
};
session.on('error', () => {});
const stream = session.request({
  ':method': 'POST',
  ':path': '/k8psh/v1/session',
  ...(asked ? { 'k8psh-start': 'confirm' } : {}),
});
stream.on('response', (headers) => (result.confirmed = headers['k8psh-start'] ?? null));
stream.on('error', () => {});
stream.on('close', () => {
  result.rstCode = stream.rstCode ?? null;
  done();
});

const request = [frame(T.WD, ''), ...args.map((arg) => frame(T.ARG, arg)), frame(T.START, command)];
if (mode === 'partial') {
  stream.write(frame(T.WD, ''));
  process.stdout.write('sent\n');
} else {
  stream.write(Buffer.concat(request));
  if (mode === 'plain') stream.write(frame(T.STDIN, 0));
  if (mode === 'go-unasked') stream.write(frame(T.GO, 0));
}

let pending = Buffer.alloc(0);
stream.on('data', (chunk) => {
  pending = Buffer.concat([pending, chunk]);
  while (pending.length >= 5) {
    const type = pending[0];
    const value = pending.readUInt32LE(1);
    const string = type === T.STDOUT || type === T.STDERR;
    if (string && pending.length < 5 + value) return;
    const payload = string ? pending.subarray(5, 5 + value).toString() : '';
    pending = pending.subarray(string ? 5 + value : 5);
    if (type === T.STDOUT) result.stdout += payload;
    else if (type === T.STDERR) result.stderr += payload;
    else if (type === T.EXIT) result.exit = value;
    else if (type === T.READY) onReady();
  }
});

function go() {
  stream.write(Buffer.concat([frame(T.GO, 0), frame(T.STDIN, 0)]));
}

function onReady() {
  result.ready = true;
  if (mode === 'go') return go();
  if (mode === 'nogo') return setTimeout(() => stream.close(0x8), 300);
  if (mode === 'hold') {
    process.stdout.write('ready\n');
    process.stdin.once('data', go);
  }
}
