/**
 * The floor of a Node server for a direct `true` (docs/benchmarks.md, beside scripts/floor-server.c):
 * Node's net server on the local socket and our addon, nothing else: first bytes and descriptors
 * with recvmsg (waiting for them with a watch when they are not there yet), HELLO, the addon's spawn
 * of /bin/true on the descriptors, its pidfd watched, EXIT_CODE. No checks: an experiment, never a
 * server. How much of k8pshd's turnaround is Node itself rather than k8psh's session code. Its two
 * frames are src/protocol's, through ./lib/protocol.mjs.
 *
 *   env -u NODE_EXTRA_CA_CERTS npx node scripts/floor-server-node.mjs PORT
 */
import { closeSync, constants, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import {
  ALL_FEATURES,
  encodeExit,
  encodeHelloReply,
  localSocketPath,
  PROTOCOL_VERSION,
} from './lib/protocol.mjs';

const native = createRequire(import.meta.url)('../native/syscalls/build/Release/syscalls.node');
const port = process.argv[2];
const buffer = Buffer.allocUnsafe(64 * 1024);
/** HELLO: our protocol version, every feature a server offers (PASSED_STDIO among them). */
const hello = encodeHelloReply(PROTOCOL_VERSION, ALL_FEATURES);
/** The working directory, as the addon's spawn takes it: a descriptor, opened once. */
const here = openSync(process.cwd(), constants.O_RDONLY | constants.O_DIRECTORY);

function run(socket, fds) {
  socket.write(hello);
  const pid = native.spawn('/bin/true', ['true'], [], here, fds);
  for (const fd of fds) closeSync(fd);
  const pidfd = native.pidfd(pid);
  native.watch(pidfd, () => {
    // The raw addon's answer: the exit code, 256 + a signal, or -errno.
    const status = native.reap(pid);
    socket.end(encodeExit(status >= 0 && status < 256 ? status : 255, null, false));
  });
  closeSync(pidfd);
}

createServer({ pauseOnConnect: true }, (socket) => {
  const fd = socket._handle.fd;
  const attempt = () => {
    const first = native.receive(fd, buffer);
    if (first === null) return void native.watch(fd, attempt);
    if (!Array.isArray(first) || first[0] === 0) return void socket.destroy();
    run(socket, first[1]);
  };
  attempt();
}).listen({ path: localSocketPath(Number(port)) });
