/**
 * End-to-end harness: the real built executable (dist/k8psh), real servers on
 * 127.0.0.1, real stubs on disk, real child processes.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import tap from 'tap';
import { freePort, waitForPort } from '../lib/net.mjs';

export { canConnect, freePort, sleep } from '../lib/net.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(ROOT, 'dist/k8psh');
export const DAEMON = join(ROOT, 'dist/k8pshd');
export const built = existsSync(BIN);
export const SKIP_UNBUILT = built ? false : 'dist/k8psh is missing: run npm run build';

export function tempDir(prefix = 'k8psh-e2e-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function cleanup(...paths: string[]): void {
  for (const path of paths) rmSync(path, { recursive: true, force: true });
}

export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

export function writeFile(path: string, text: string | Buffer, mode?: number): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text, mode === undefined ? undefined : { mode });
  return path;
}

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  out: string;
  err: string;
}

export interface WithFiles {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** What the program wrote into its stdout file. */
  output: string;
  inputFile: string;
  outputFile: string;
}

/**
 * Runs `file` with regular files as stdin (holding `input`) and stdout, both made in `dir`, stderr
 * a pipe: what a stub passes to its server is then a file the test can read back and name.
 */
export async function runWithFiles(
  file: string,
  args: readonly string[],
  input: string,
  options: { dir: string; env?: NodeJS.ProcessEnv },
): Promise<WithFiles> {
  const tag = Math.random().toString(36).slice(2);
  const inputFile = writeFile(join(options.dir, `in-${tag}`), input);
  const outputFile = writeFile(join(options.dir, `out-${tag}`), '');
  const stdin = openSync(inputFile, 'r');
  const stdout = openSync(outputFile, 'w');
  try {
    const child = spawn(file, args, { env: options.env, cwd: options.dir, stdio: [stdin, stdout, 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
      (resolve, reject) => {
        child.on('error', reject);
        // exit, not close: a background child may hold the passed stderr open after the stub exits.
        child.on('exit', (c, s) => resolve({ code: c, signal: s }));
      },
    );
    return { code, signal, stderr, output: readFileSync(outputFile, 'utf8'), inputFile, outputFile };
  } finally {
    closeSync(stdin);
    closeSync(stdout);
  }
}

export interface RunOptions extends SpawnOptions {
  input?: string | Buffer;
  timeoutMs?: number;
}

/** Runs a program to completion, collecting everything. */
export function run(file: string, args: readonly string[] = [], options: RunOptions = {}): Promise<Result> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(file, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} ${args.join(' ')} did not finish in ${options.timeoutMs ?? 30000} ms`));
    }, options.timeoutMs ?? 30000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out);
      const stderr = Buffer.concat(err);
      resolveRun({ code, signal, stdout, stderr, out: stdout.toString(), err: stderr.toString() });
    });
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

export interface Server {
  process: ChildProcess;
  port: number;
  stderr: () => string;
  /**
   * The exit code, once the server exits within `ms`. Otherwise it is SIGKILLed and this rejects
   * naming `what` was awaited (`after --max-connections 2`): a test then fails within its own
   * deadline, not at tap's, and leaves no server behind.
   */
  exitedWithin(ms: number, what: string): Promise<number | null>;
  /** Sends `signal` (a no-op once the server is gone) and waits for the exit as exitedWithin. */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<number | null>;
  /** SIGKILL at once, if it still runs: for a teardown, which may not get to wait. */
  kill(): void;
}

/** What a test can hand to startServer: the server is then SIGKILLed in its teardown. */
export interface TeardownHost {
  teardown(fn: () => void): void;
}

/** Servers started and not yet exited: SIGKILLed however the test process ends. */
const running = new Set<ChildProcess>();
let hooked = false;

function killRunning(): void {
  for (const child of running) child.kill('SIGKILL');
}

/**
 * Every server is SIGKILLed when the test file ends, however it ends: tap runs teardowns also on
 * its timeout (before it kills the process with SIGALRM), and the 'exit' hook covers a test file
 * that ends by an exception.
 */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  tap.teardown(killRunning);
  process.on('exit', killRunning);
}

/**
 * Starts `k8pshd` and waits until its port accepts connections. With `options.test`, the server is
 * SIGKILLed in that test's teardown if it still runs then; every server is SIGKILLed when the test
 * file ends.
 */
export async function startServer(
  args: readonly string[],
  port: number,
  options: SpawnOptions & { test?: TeardownHost } = {},
  file = DAEMON,
  startTimeoutMs = 15000,
): Promise<Server> {
  hookExit();
  const { test, ...spawnOptions } = options;
  const child = spawn(file, args, { ...spawnOptions, stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) =>
    child.on('exit', (code) => {
      running.delete(child);
      resolveExit(code);
    }),
  );
  let dead = false;
  void exited.then(() => (dead = true));
  const kill = (): void => {
    if (!dead) child.kill('SIGKILL');
  };
  test?.teardown(kill);
  try {
    await waitForPort(port, startTimeoutMs, () => dead);
  } catch {
    kill();
    throw new Error(
      dead ? `k8pshd exited during start-up: ${stderr}` : `k8pshd did not listen on ${port}: ${stderr}`,
    );
  }
  const exitedWithin = async (ms: number, what: string): Promise<number | null> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolveLate) => (timer = setTimeout(() => resolveLate('late'), ms)));
    const outcome = await Promise.race([exited, late]);
    clearTimeout(timer);
    if (outcome !== 'late') return outcome;
    kill();
    await exited;
    throw new Error(`k8pshd (port ${port}) did not exit within ${ms} ms ${what}: killed`);
  };
  return {
    process: child,
    port,
    stderr: () => stderr,
    exitedWithin,
    async stop(signal = 'SIGTERM', ms = 10000) {
      if (!dead) child.kill(signal);
      return exitedWithin(ms, `after ${signal}`);
    },
    kill,
  };
}

/** Whether a process `pid` exists (EPERM: it does, another user's). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pids of processes whose command line contains `marker` (from /proc). */
export async function pidsMatching(marker: string): Promise<number[]> {
  const { readdirSync, readFileSync } = await import('node:fs');
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(marker) && Number(entry) !== process.pid) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/**
 * A workspace: a config file (text given with PORT placeholders already
 * substituted), a base directory, a stub directory made by `k8pshd -e`.
 */
export interface Workspace {
  dir: string;
  config: string;
  bin: string;
  env: NodeJS.ProcessEnv;
}

export interface WorkspaceOptions {
  /** Make the stubs (default true). */
  stubs?: boolean;
  /** Prefix of the temporary directory's name. */
  prefix?: string;
  /** The k8pshd that makes the stubs (default DAEMON). */
  daemon?: string;
}

export async function makeWorkspace(configText: string, options: WorkspaceOptions = {}): Promise<Workspace> {
  const dir = tempDir(options.prefix);
  const config = writeFile(join(dir, 'k8psh.conf'), configText);
  const bin = join(dir, 'bin');
  const env: NodeJS.ProcessEnv = { ...process.env, K8PSH_CONFIG: config, K8PSH_TTY: '0' };
  delete env.K8PSH_DEBUG;
  if (options.stubs !== false) {
    const made = await run(
      options.daemon ?? DAEMON,
      ['--executable-directory', bin, '--name', 'k8psh-test-client'],
      {
        env,
        cwd: dir,
      },
    );
    if (made.code !== 0) throw new Error(`stub creation failed: ${made.err}`);
  }
  return { dir, config, bin, env };
}
