/**
 * A server that records requests byte for byte: it listens where k8pshd listens for one port (the
 * local socket `\0k8psh-PORT`, through the server's own listenLocal() and the addon's recvmsg, and
 * 127.0.0.1:PORT), keeps every byte a client sends up to and including START_COMMAND and how many
 * descriptors came with them, and answers HELLO + EXIT_CODE so that the client ends at once.
 * Nothing runs: what a test compares is exactly what each client put on the wire.
 */
import { closeSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { listenLocal } from '../../src/server/local.js';
import { parseFrames, stringFrame, valueFrame } from './frames.mjs';

const START_COMMAND = 3;
const EXIT_CODE = 8;
const HELLO = 0x40;

export interface RecordedRequest {
  via: 'local' | 'tcp';
  /** The request: every byte up to the end of START_COMMAND. */
  bytes: Buffer;
  /** Descriptors that came with the first bytes (closed at once). */
  fds: number;
}

export interface RequestServer {
  port: number;
  /** The requests received since the last take(), in arrival order; emptied. */
  take(): RecordedRequest[];
  close(): Promise<void>;
}

/** The HELLO this project's server answers with (docs/protocol.md): version 1, all features. */
function hello(): Buffer {
  const payload = Buffer.alloc(10);
  payload.writeUInt32LE(0x3270386b, 0);
  payload.writeUInt16LE(1, 4);
  payload.writeUInt32LE(15, 6);
  return stringFrame(HELLO, payload);
}

/** Listens on both addresses of `port`; `exitCode` is what every session ends with. */
export async function startRequestServer(port: number, exitCode = 0): Promise<RequestServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();

  const serve = (socket: Socket, via: RecordedRequest['via'], first: Buffer, fds: number): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let bytes = first;
    const check = (): void => {
      let offset = 0;
      for (const frame of parseFrames(bytes).frames) {
        offset += 5 + (frame.payload ? frame.payload.length : 0);
        if (frame.type !== START_COMMAND) continue;
        requests.push({ via, bytes: Buffer.from(bytes.subarray(0, offset)), fds });
        socket.removeAllListeners('data');
        socket.end(Buffer.concat([hello(), valueFrame(EXIT_CODE, exitCode)]));
        return;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
      check();
    });
    socket.resume();
    check();
  };

  const local = await listenLocal(
    port,
    5000,
    () => true,
    (socket, first) => {
      for (const fd of first.fds) closeSync(fd);
      serve(socket, 'local', first.bytes, first.fds.length);
    },
    pino({ level: 'silent' }),
  );
  if (!local.server) throw new Error(`no local socket for ${port}: ${JSON.stringify(local.missing)}`);
  const tcp: Server = createServer((socket) => serve(socket, 'tcp', Buffer.alloc(0), 0));
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen({ host: '127.0.0.1', port }, () => resolve());
  });
  const closeServer = (server: Server): Promise<void> =>
    new Promise((resolve) => server.close(() => resolve()));
  return {
    port,
    take: () => requests.splice(0),
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all([closeServer(local.server), closeServer(tcp)]);
    },
  };
}
