/**
 * `k8psh --health [--name NAME]`: an exec probe for Kubernetes. Exits 0 when
 * the server answers the handshake (it counts as no connection for
 * --max-connections), 1 with a message otherwise.
 */
import { hostname } from 'node:os';
import { loadChosenConfig, NAME_IT_WITH_OPTION } from '../config/load.js';
import { ClientSession, encodeHello } from '../protocol/client-session.js';
import { connectWithRetry } from './connect.js';
import { UnhealthyError } from '../errors.js';
import { callerEnv } from '../runtime/caller-env.js';

const PROBE_TIMEOUT_MS = 3000;

export async function checkHealth(
  explicitConfig: string | undefined,
  name = callerEnv().K8PSH_NAME || hostname(),
): Promise<void> {
  const { file: configFile, config } = await loadChosenConfig(
    explicitConfig,
    { env: callerEnv() },
    NAME_IT_WITH_OPTION,
  );
  const host = config.hosts.get(name);
  if (!host) throw new UnhealthyError(`server ${name} has no commands in ${configFile}`);
  const target = { serverName: name, serverUid: host.serverUid, port: host.port, connectTimeoutMs: 0 };
  const socket = await connectWithRetry(target).catch((error: Error) => {
    throw new UnhealthyError(error.message);
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string): void => {
      socket.destroy();
      reject(new UnhealthyError(`server ${name} on port ${host.port} is not healthy: ${why}`));
    };
    const timer = setTimeout(() => fail('no answer'), PROBE_TIMEOUT_MS);
    const session = new ClientSession({
      onHello: () => {
        clearTimeout(timer);
        socket.destroy();
        process.stdout.write(`ok: server ${name} on 127.0.0.1:${host.port}\n`);
        resolve();
      },
      onServerError: (message) => fail(message),
      onExit: () => fail('refused'),
      onProtocolError: (message) => fail(message),
    });
    socket.on('data', (chunk: Buffer) => session.receive(chunk));
    socket.on('close', () => fail('connection closed'));
    socket.write(encodeHello());
  });
}
