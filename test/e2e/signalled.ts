/**
 * A stub started directly and signalled once its remote command is ready (docs/session.md, "Signals and endings"): shared by
 * the signal tests of this directory.
 */
import { spawn } from 'node:child_process';

export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/**
 * Starts `file` directly (a background shell job would start it with INT and QUIT ignored; `env
 * --default-signal` undoes any such inherited disposition and execs the stub, so the pid signalled
 * is the stub's), waits for `ready` on its stdout, sends `signal` (null: none, it ends by itself)
 * and collects how it ended. Every wait has its deadline; the stub is SIGKILLed when one passes.
 */
export async function signalled(
  file: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
  signal: NodeJS.Signals | null,
): Promise<Ended> {
  const child = spawn('env', ['--default-signal=INT,QUIT,TERM', file], {
    env,
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const ended = new Promise<Ended>((resolve) =>
    child.on('close', (code, how) => resolve({ code, signal: how, out, err })),
  );
  const ready = new Promise<boolean>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready\n')) resolve(true);
    });
    void ended.then(() => resolve(false));
  });
  const deadline = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      promise.finally(() => clearTimeout(timer)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(
            new Error(
              `${what} within ${ms} ms (stdout ${JSON.stringify(out)}, stderr ${JSON.stringify(err)})`,
            ),
          );
        }, ms);
      }),
    ]);
  };
  if (signal === null) return deadline(ended, 15000, 'the stub did not end');
  if (!(await deadline(ready, 15000, 'no "ready" from the remote command')))
    throw new Error(`the stub ended before the remote command was ready: ${JSON.stringify(await ended)}`);
  child.kill(signal);
  return deadline(ended, 10000, `the stub did not end after ${signal}`);
}
