/**
 * Ports and waiting, shared by the test harnesses and the benchmark (plain JavaScript, typed by
 * net.d.mts, so that node runs it in bench/ without a TypeScript loader).
 */
import { connect, createServer } from 'node:net';

export function sleep(ms) {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

/** A port that was free a moment ago (the kernel picks it). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Whether 127.0.0.1:port accepts a connection now (the connection is closed at once). */
export function canConnect(port) {
  return new Promise((resolveConnect) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once('error', () => resolveConnect(false));
  });
}

/**
 * Resolves once 127.0.0.1:port accepts a connection (polling every 20 ms); rejects when `isDead()`
 * says the server is gone, or after timeoutMs.
 */
export async function waitForPort(port, timeoutMs, isDead = () => false) {
  const deadline = Date.now() + timeoutMs;
  while (!(await canConnect(port))) {
    if (isDead()) throw new Error(`the server on port ${port} exited during start-up`);
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await sleep(20);
  }
}
