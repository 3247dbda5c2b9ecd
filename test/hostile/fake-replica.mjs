/**
 * A replica that breaks the start's confirmation on purpose (./gateway-replica.test.ts): a TLS
 * HTTP/2 server on ADDRESS:PORT with the Secret in TLS_DIR that echoes `k8psh-start: confirm` (unless
 * told not to) and then misbehaves as the request's first argument says:
 *
 *   flood       1 MiB of STDOUT_DATA before START_READY
 *   twice       START_READY, and again after START_GO
 *   servergo    START_GO, a client's frame
 *   resetafter  START_READY, then a reset stream once START_GO came
 *   refused     REFUSED_STREAM for every request
 *   noecho      no echo, then the stream ends without an exit code
 *
 * Every START_GO received is counted on stderr ("GO"), so a test can tell whether one came.
 */
import { createSecureServer, constants } from 'node:http2';
import { readFileSync } from 'node:fs';

const [at, dir] = process.argv.slice(2);
const [host, port] = [at.slice(0, at.lastIndexOf(':')), Number(at.slice(at.lastIndexOf(':') + 1))];
const file = (name) => readFileSync(`${dir}/${name}`);
const READY = 0x60;
const GO = 0x61;
const value = (type, n = 0) => {
  const frame = Buffer.alloc(5);
  frame[0] = type;
  frame.writeUInt32LE(n, 1);
  return frame;
};
const STRING_TYPES = new Set([0, 1, 2, 3, 4, 5, 6, 0x40, 0x41, 0x44]);

const server = createSecureServer({
  cert: file('tls.crt'),
  key: file('tls.key'),
  ca: file('ca.crt'),
  requestCert: true,
  rejectUnauthorized: true,
  minVersion: 'TLSv1.3',
});
server.on('stream', (stream) => {
  stream.on('error', () => {});
  let pending = Buffer.alloc(0);
  const args = [];
  let mode = null;
  stream.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5) {
      const type = pending[0];
      const n = pending.readUInt32LE(1);
      const size = STRING_TYPES.has(type) ? n : 0;
      if (pending.length < 5 + size) return;
      const payload = pending.subarray(5, 5 + size).toString();
      pending = pending.subarray(5 + size);
      if (type === 2) args.push(payload);
      if (type === 3) {
        mode = args[0] ?? '';
        start(stream, mode);
      }
      if (type === GO) {
        process.stderr.write('GO\n');
        onGo(stream, mode);
      }
    }
  });
});

function start(stream, mode) {
  if (mode === 'refused') return stream.close(constants.NGHTTP2_REFUSED_STREAM);
  if (mode === 'noecho') {
    stream.respond({ ':status': 200 });
    return setTimeout(() => stream.end(), 100);
  }
  stream.respond({ ':status': 200, 'k8psh-start': 'confirm' });
  if (mode === 'flood') {
    const chunk = Buffer.alloc(64 << 10, 0x61);
    for (let i = 0; i < 16; i++) stream.write(Buffer.concat([value(5, chunk.length), chunk]));
    return;
  }
  if (mode === 'servergo') return stream.write(value(GO));
  stream.write(value(READY));
}

function onGo(stream, mode) {
  if (mode === 'twice') stream.write(value(READY));
  if (mode === 'resetafter') setTimeout(() => stream.close(constants.NGHTTP2_INTERNAL_ERROR), 50);
}

server.listen(port, host, () => process.stderr.write('listening\n'));
