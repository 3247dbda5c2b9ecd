/**
 * Passed descriptors (docs/protocol.md): the remote command runs on the client's own stdin, stdout
 * and stderr, as a local command would; with K8PSH_DIRECT_STDIO=0 the same session is relayed.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  cleanup,
  freePort,
  makeWorkspace,
  run,
  sleep,
  SKIP_UNBUILT,
  startServer,
  writeFile,
  type Server,
  type Workspace,
} from './harness.js';

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function ended(child: ChildProcess): Promise<Ended> {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
}

t.test('passed descriptors', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const ws: Workspace = await makeWorkspace(`
connectTimeoutMs = 5000
[ srv:${port} ]
sh
yes
missing /nonexistent/program
`);
  const server: Server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir });
  t.teardown(async () => {
    await server.stop();
    cleanup(ws.dir);
  });
  const stub = (name: string): string => join(ws.bin, name);
  const dir = realpathSync(ws.dir);

  /** Runs a stub with files as its stdin and stdout; resolves with how it ended and its stdout. */
  async function withFiles(
    name: string,
    args: string[],
    input: string,
    env: NodeJS.ProcessEnv = ws.env,
  ): Promise<Ended & { output: string; outputFile: string; inputFile: string }> {
    const tag = Math.random().toString(36).slice(2);
    const inputFile = writeFile(join(dir, `in-${tag}`), input);
    const outputFile = writeFile(join(dir, `out-${tag}`), '');
    const stdin = openSync(inputFile, 'r');
    const stdout = openSync(outputFile, 'w');
    const stdio: StdioOptions = [stdin, stdout, 'pipe'];
    try {
      const result = await ended(spawn(stub(name), args, { env, cwd: dir, stdio }));
      return { ...result, output: readFileSync(outputFile, 'utf8'), outputFile, inputFile };
    } finally {
      closeSync(stdin);
      closeSync(stdout);
    }
  }

  const script = 'readlink /proc/self/fd/0 /proc/self/fd/1; cat';

  t.test('the command reads and writes the client files themselves', async (t) => {
    const r = await withFiles('sh', ['-c', script], 'from the file\n');
    t.same([r.code, r.signal], [0, null]);
    t.equal(r.output, `${r.inputFile}\n${r.outputFile}\nfrom the file\n`);
  });

  t.test('K8PSH_DIRECT_STDIO=0: the same session, relayed through pipes', async (t) => {
    const r = await withFiles('sh', ['-c', script], 'from the file\n', {
      ...ws.env,
      K8PSH_DIRECT_STDIO: '0',
    });
    t.same([r.code, r.signal], [0, null]);
    const lines = r.output.split('\n');
    t.match(lines[0], /^(pipe|socket):\[\d+\]$/, 'stdin is the server end of a pipe');
    t.match(lines[1], /^(pipe|socket):\[\d+\]$/, 'stdout too');
    t.equal(lines.slice(2).join('\n'), 'from the file\n');
  });

  t.test('the exit is reported when the command ends, as locally', async (t) => {
    // A background process keeps stdout: a relaying client waits for its end, a local command does not.
    const started = Date.now();
    const r = await withFiles('sh', ['-c', '(sleep 6; echo late) & echo early'], '');
    t.same([r.code, r.signal], [0, null]);
    t.ok(Date.now() - started < 5000, 'the client did not wait for the background process');
    t.equal(r.output, 'early\n');
    let output = r.output;
    for (let i = 0; i < 150 && !output.includes('late'); i++) {
      await sleep(100);
      output = readFileSync(r.outputFile, 'utf8');
    }
    t.equal(output, 'early\nlate\n', 'the background process wrote into the same file later');
  });

  t.test('a reader that goes away: the command ends exactly as a local one', async (t) => {
    // Node's 'pipe' is a socketpair: `yes` gets ECONNRESET and exits 1, where a pipe gives SIGPIPE.
    const readOnce = async (file: string): Promise<Ended & { err: string }> => {
      const child = spawn(file, [], { env: ws.env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      child.stdout.once('data', () => child.stdout.destroy());
      // 'close': exited and stderr read to its end.
      const end = await new Promise<Ended>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code, signal) => resolve({ code, signal }));
      });
      return { ...end, err };
    };
    const local = await readOnce('yes');
    const remote = await readOnce(stub('yes'));
    t.same(remote, local, `as locally: ${JSON.stringify(local)}`);
  });

  t.test('refused and failed sessions leave no descriptor behind in the server', async (t) => {
    const pid = server.process.pid!;
    const count = (): number => readdirSync(`/proc/${pid}/fd`).length;
    // Warm up once (lazily opened descriptors of the server itself are not leaks).
    await run(stub('sh'), ['-c', 'true'], { env: ws.env, cwd: dir });
    await run(stub('missing'), [], { env: ws.env, cwd: dir });
    await sleep(200);
    const before = count();
    for (let i = 0; i < 10; i++) {
      t.equal((await run(stub('missing'), [], { env: ws.env, cwd: dir })).code, 127, 'not found');
      t.equal((await run(stub('sh'), ['-c', 'exit 3'], { env: ws.env, cwd: dir })).code, 3, 'ran');
    }
    await sleep(200);
    t.equal(count(), before, 'as many descriptors as before');
  });
});
