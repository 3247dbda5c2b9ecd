/**
 * A minimal k8psh client speaking the original 1.x wire protocol (docs/protocol.md, types 0-8), so
 * that one benchmark process can open hundreds of sessions against any server (ours or the
 * original) without paying a process start-up per session. Its frames are our client's own: the
 * request encoder and the session that reads the reply (src/protocol, through
 * scripts/lib/protocol.mjs).
 */
import { connect } from 'node:net';
import { ClientSession, encodeRequest, STDIN_END } from '../../scripts/lib/protocol.mjs';

/**
 * Runs `command args...` on the server at 127.0.0.1:port with an empty stdin; resolves with
 * `{ code, stdout, stderr }` (code null when the server closed without an exit code).
 */
export function runSession(port, command, args = [], workingDirectory = '') {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    const out = [];
    const err = [];
    let code = null;
    // Its chunks are views, valid only during the call: copied.
    const session = new ClientSession({
      onStdout: (chunk) => out.push(Buffer.from(chunk)),
      onStderr: (chunk) => err.push(Buffer.from(chunk)),
      onServerError: (message) => err.push(Buffer.from(message)),
      onExit: (status) => (code = status),
      onProtocolError: (message) => socket.destroy(new Error(message)),
    });
    socket.on('error', reject);
    socket.on('connect', () => {
      const request = encodeRequest({
        hello: false,
        workingDirectory,
        arguments: args,
        environment: [],
        command,
      });
      socket.write(Buffer.concat([request, STDIN_END]));
    });
    socket.on('data', (chunk) => session.receive(chunk));
    socket.on('close', () =>
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
  });
}
