/**
 * The build-tools Pod's probes, run for real with the built binary (dist/k8pshd; skipped before
 * `npm run build`): the server container's command and config from config/k8s/build-pod.yaml start a
 * k8pshd on the loopback interface, and the probe command (`k8pshd --health`, configured by
 * K8PSH_CONFIG and K8PSH_NAME) must fail while no server listens and succeed once it does.
 * Only the port is changed (to a free one) so that the test cannot meet another server.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { container, envOf, loadManifests, MANIFEST_DIR, option, podSpecOf, ROOT } from './manifests.js';

const K8PSHD = path.join(ROOT, 'dist/k8pshd');
const INSTALLED = '/k8psh/bin/k8pshd';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

t.test(
  'the compiler container: k8pshd serves, and its probe command tells',
  { skip: !existsSync(K8PSHD) && 'dist/k8pshd is not built (npm run build)' },
  async (t) => {
    const documents = loadManifests(path.join(MANIFEST_DIR, 'build-pod.yaml'));
    const pod = documents.find((d) => d.object.kind === 'Pod');
    const map = documents.find((d) => d.object.kind === 'ConfigMap');
    if (pod === undefined || map === undefined) throw new Error('build-pod.yaml: no Pod or no ConfigMap');
    const compiler = container(podSpecOf(pod.object), 'compiler');
    const env = envOf(compiler);
    const probe = compiler.readinessProbe?.exec?.command ?? [];
    t.equal(probe[0], INSTALLED);

    const scratch = mkdtempSync(path.join(tmpdir(), 'k8psh-probe-'));
    t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
    const workspace = path.join(scratch, 'workspace');
    mkdirSync(workspace);
    const port = await freePort();
    const text = (map.object.data as Record<string, string>)['k8psh.conf'] ?? '';
    const moved = text.replace(/^\[ compiler:\d+ \]/m, `[ compiler:${port} ]`);
    t.not(moved, text, 'the compiler section was found (its port moved for the test)');
    const configFile = path.join(scratch, 'k8psh.conf');
    writeFileSync(configFile, moved);

    // The container's environment, its paths mapped to the scratch directory.
    const containerEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: scratch,
      ...env,
      K8PSH_CONFIG: configFile,
      WORKSPACE: workspace,
    };
    const local = (argv: readonly string[]): string[] =>
      argv.map((a) => (a === INSTALLED ? K8PSHD : a.replace(/^--config=.*/, `--config=${configFile}`)));
    const runProbe = (): { status: number | null; output: string } => {
      const [file, ...rest] = local(probe);
      const result = spawnSync(file ?? '', rest, { env: containerEnv, encoding: 'utf8', timeout: 15000 });
      return { status: result.status, output: `${result.stdout}${result.stderr}` };
    };

    const down = runProbe();
    t.not(down.status, 0, 'the probe fails while no server listens');
    t.notMatch(
      down.output,
      /unrecognized option|unknown argument/i,
      `k8pshd understands --health: ${down.output}`,
    );

    const [serverFile, ...serverArgs] = local([...(compiler.command ?? []), ...(compiler.args ?? [])]);
    t.equal(option(serverArgs, '--name'), env.K8PSH_NAME);
    const server = spawn(serverFile ?? '', serverArgs, {
      cwd: scratch,
      env: containerEnv,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let serverLog = '';
    server.stderr.on('data', (chunk: Buffer) => (serverLog += chunk.toString()));
    const exited = new Promise<string>((resolve) =>
      server.on('exit', (code, signal) => resolve(`${code ?? signal}`)),
    );
    t.teardown(() => {
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    });

    // Like a readiness probe: retried until the server is up (here for at most 15 s).
    const deadline = Date.now() + 15000;
    let up = runProbe();
    while (up.status !== 0 && server.exitCode === null && Date.now() < deadline) {
      await sleep(250);
      up = runProbe();
    }
    t.equal(up.status, 0, `the probe succeeds once k8pshd listens: ${up.output}\n${serverLog}`);
    t.equal(runProbe().status, 0, 'and again (a probe is not a session)');

    server.kill('SIGTERM');
    const stopped = await Promise.race([exited, sleep(10000).then(() => 'still running')]);
    t.not(stopped, 'still running', `k8pshd stops on SIGTERM, as when the Pod is deleted (${stopped})`);
  },
);
