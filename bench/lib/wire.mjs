/**
 * A minimal k8psh client speaking the original 1.x wire protocol (SPEC A4), so that one benchmark
 * process can open hundreds of sessions against any server (ours or the original) without paying a
 * process start-up per session. Its frames are the test harnesses' (test/lib/frames.mjs).
 */
import { connect } from 'node:net';
import { parseFrames, stringFrame } from '../../test/lib/frames.mjs';

const WORKING_DIRECTORY = 0;
const COMMAND_ARGUMENT = 2;
const START_COMMAND = 3;
const STDIN_DATA = 4;
const STDOUT_DATA = 5;
const STDERR_DATA = 6;
const EXIT_CODE = 8;

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
          stringFrame(WORKING_DIRECTORY, workingDirectory),
          ...args.map((argument) => stringFrame(COMMAND_ARGUMENT, argument)),
          stringFrame(START_COMMAND, command),
          stringFrame(STDIN_DATA, Buffer.alloc(0)),
        ]),
      );
    });
    socket.on('data', (chunk) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      const { frames, rest } = parseFrames(pending);
      pending = pending.subarray(pending.length - rest);
      for (const { type, value, payload } of frames) {
        if (type === STDOUT_DATA && value) out.push(Buffer.from(payload));
        else if (type === STDERR_DATA && value) err.push(Buffer.from(payload));
        else if (type === EXIT_CODE) code = value;
      }
    });
    socket.on('close', () =>
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
  });
}
