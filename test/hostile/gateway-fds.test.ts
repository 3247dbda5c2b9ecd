/**
 * The gateway's local socket takes descriptors as a server's does (docs/remote.md): descriptors that
 * do not match the HELLO (passed without PASSED_STDIO, too few, too many, or with a terminal asked
 * for) are a protocol error refused in the client's framing, and the gateway keeps none of them.
 * The gateway runs here in the test's own network namespace; its remote server is a loopback port
 * nobody listens on (these requests must be refused before anything would go there).
 */
import { closeSync, openSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { CLIENT_FEATURES, Feature } from '../../src/protocol/constants.js';
import { cleanup, DAEMON, freePorts, tempDir, writeFile } from '../e2e/harness.js';
import { daemon, nodeEnv } from '../remote/cluster.js';
import { makePki, secretFor } from '../remote/certs.js';
import { writeSecretDir } from '../remote/secret-dir.js';
import { spawn } from 'node:child_process';
import {
  converseLocal,
  eventually,
  hello,
  refusal,
  request,
  SKIP_UNBUILT,
  stringFrame,
  T,
} from './harness.js';

const PASSING = CLIENT_FEATURES | Feature.PASSED_STDIO;

t.test(
  'mismatched descriptors are refused by the gateway, and none is kept',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const dir = tempDir('k8psh-gateway-fds-');
    t.teardown(() => cleanup(dir));
    const [port, nobody] = (await freePorts(2)) as [number, number];
    const pki = await makePki(join(dir, 'pki'));
    const tls = join(dir, 'tls');
    writeSecretDir(tls, secretFor(await pki.client({ cn: 'build' })));
    const config = writeFile(
      join(dir, 'k8psh.conf'),
      `[ tools:${port} ] --remote 127.0.0.1:${nobody} --tls ${tls}\nprintf\n`,
    );
    const gateway = daemon(
      spawn(DAEMON, ['--gateway', '-c', config, '-e', join(dir, 'bin')], {
        cwd: dir,
        env: nodeEnv(),
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    );
    t.teardown(() => void gateway.stop('SIGKILL'));
    await gateway.waitFor(/"msg":"gateway ready"/);
    const pid = Number(/"pid":(\d+)/.exec(gateway.stderr())![1]);
    // The passed descriptors are this file's: the gateway's own (its connection attempts to a
    // server that is not there come and go) are not counted.
    const passed = realpathSync(writeFile(join(dir, 'passed'), ''));
    const holding = (): number =>
      readdirSync(`/proc/${pid}/fd`).filter((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`) === passed;
        } catch {
          return false;
        }
      }).length;

    const file = openSync(passed, 'r');
    t.teardown(() => closeSync(file));
    const cases: [string, Buffer, number[], RegExp][] = [
      [
        'descriptors without PASSED_STDIO',
        hello(1, CLIENT_FEATURES),
        [file, file, file],
        /does not pass its stdio/,
      ],
      [
        'two descriptors',
        hello(1, PASSING),
        [file, file],
        /2 descriptors came with a request that passes its stdio/,
      ],
      ['four descriptors', hello(1, PASSING), [file, file, file, file], /4 descriptors/],
      [
        'a terminal asked for with descriptors',
        Buffer.concat([hello(1, PASSING), stringFrame(T.TTY_REQUEST, Buffer.from([0, 24, 0, 80, 120]))]),
        [file, file, file],
        /terminal/,
      ],
    ];
    for (const [label, first, fds, message] of cases) {
      const conversation = await converseLocal(
        port,
        Buffer.concat([first, request('printf', { args: ['x'] })]),
        { fds },
      );
      const refused = refusal(conversation);
      t.match(refused.message, /^protocol error: /, `${label}: a protocol error`);
      t.match(refused.message, message, `${label}: says which`);
      t.equal(refused.code, 1, `${label}: exit 1`);
    }
    t.ok(await eventually(() => holding() === 0, 5000), 'the gateway holds no passed descriptor');
    t.ok(gateway.process.exitCode === null, 'and serves on');
  },
);
