/**
 * A minimal k8psh client speaking the original 1.x wire protocol (SPEC A4), so that one benchmark
 * process can open hundreds of sessions against any server (ours or the original) without paying a
 * process start-up per session. Frames: 1 byte type + 4 bytes little-endian value (a length for
 * string frames).
 */
import { connect } from 'node:net';

const WORKING_DIRECTORY = 0;
const COMMAND_ARGUMENT = 2;
const START_COMMAND = 3;
const STDIN_DATA = 4;
const STDOUT_DATA = 5;
const STDERR_DATA = 6;
const EXIT_CODE = 8;

function frame(type, payload) {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const out = Buffer.allocUnsafe(5 + bytes.length);
  out[0] = type;
  out.writeUInt32LE(bytes.length, 1);
  bytes.copy(out, 5);
  return out;
}

/**
 * Runs `command args...` on the server at 127.0.0.1:port with an empty stdin; resolves with
 * `{ code, stdout, stderr }` (code null when the server closed without an exit code).
 */
export function runSession(port, command, args = [], workingDirectory = '') {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    const out = [];
    const err = [];
    let pending = Buffer.alloc(0);
    let code = null;
    socket.on('error', reject);
    socket.on('connect', () => {
      socket.write(
        Buffer.concat([
          frame(WORKING_DIRECTORY, workingDirectory),
          ...args.map((argument) => frame(COMMAND_ARGUMENT, argument)),
          frame(START_COMMAND, command),
          frame(STDIN_DATA, Buffer.alloc(0)),
        ]),
      );
    });
    socket.on('data', (chunk) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      for (;;) {
        if (pending.length < 5) break;
        const type = pending[0];
        const value = pending.readUInt32LE(1);
        const isString = type <= STDERR_DATA;
        if (isString && pending.length < 5 + value) break;
        const payload = isString ? pending.subarray(5, 5 + value) : null;
        pending = pending.subarray(5 + (isString ? value : 0));
        if (type === STDOUT_DATA && value) out.push(Buffer.from(payload));
        else if (type === STDERR_DATA && value) err.push(Buffer.from(payload));
        else if (type === EXIT_CODE) code = value | 0;
      }
    });
    socket.on('close', () =>
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
  });
}

/** Resolves once 127.0.0.1:port accepts a connection (polling), or rejects after timeoutMs. */
export async function waitForPort(port, timeoutMs, isDead = () => false) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (isDead()) throw new Error(`the server on port ${port} exited during start-up`);
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
