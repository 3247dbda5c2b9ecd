/**
 * `k8psh --health [--name NAME]`: an exec probe for Kubernetes. Exits 0 when
 * the server answers the handshake (it counts as no connection for
 * --max-connections), 1 with a message otherwise.
 */
import { hostname } from 'node:os';
import { loadConfig } from '../config/load.js';
import { FrameType } from '../protocol/constants.js';
import { ClientSession } from '../protocol/client-session.js';
import { encodeString } from '../protocol/codec.js';
import { encodeHelloPayload } from '../protocol/hello.js';
import { CLIENT_FEATURES, PROTOCOL_VERSION } from '../protocol/constants.js';
import { connectWithRetry } from './connect.js';
import { ClientError } from './fail.js';
import { callerEnv } from '../runtime/caller-env.js';

const PROBE_TIMEOUT_MS = 3000;

export async function checkHealth(
  configFile: string,
  name = callerEnv().K8PSH_NAME || hostname(),
): Promise<void> {
  const config = await loadConfig(configFile, { env: callerEnv() });
  const host = config.hosts.get(name);
  if (!host) throw new ClientError(`server ${name} has no commands in ${configFile}`, 1);
  const socket = await connectWithRetry(host.port, 0, name).catch((error: Error) => {
    throw new ClientError(error.message, 1);
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string): void => {
      socket.destroy();
      reject(new ClientError(`server ${name} on port ${host.port} is not healthy: ${why}`, 1));
    };
    const timer = setTimeout(() => fail('no answer'), PROBE_TIMEOUT_MS);
    const session = new ClientSession({
      onHello: () => {
        clearTimeout(timer);
        socket.destroy();
        process.stdout.write(`ok: server ${name} on 127.0.0.1:${host.port}\n`);
        resolve();
      },
      onStdout: () => {},
      onStdoutEnd: () => {},
      onStderr: () => {},
      onStderrEnd: () => {},
      onStdinClosed: () => {},
      onServerError: (message) => fail(message),
      onExit: () => fail('refused'),
      onProtocolError: (message) => fail(message),
    });
    socket.on('data', (chunk: Buffer) => session.receive(chunk));
    socket.on('close', () => fail('connection closed'));
    socket.write(
      encodeString(
        FrameType.HELLO,
        encodeHelloPayload({ version: PROTOCOL_VERSION, features: CLIENT_FEATURES }),
      ),
    );
  });
}
