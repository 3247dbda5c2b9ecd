/** A program in a real terminal (node-pty), driven as a person would: type, resize, read the screen. */
import * as pty from 'node-pty';
import { sleep } from '../lib/net.mjs';

export interface Terminal {
  output: () => string;
  write: (data: string) => void;
  resize: (cols: number, rows: number) => void;
  kill: () => void;
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
  exit: Promise<{ exitCode: number; signal?: number }>;
}

export interface TerminalOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  cols?: number;
  rows?: number;
  /** How long waitFor waits by default. */
  waitMs?: number;
}

export function terminal(
  file: string,
  args: string[],
  { env, cwd, cols = 101, rows = 33, waitMs = 10000 }: TerminalOptions,
): Terminal {
  const term = pty.spawn(file, args, { name: 'xterm-256color', cols, rows, cwd, env });
  let output = '';
  term.onData((data) => (output += data));
  const exit = new Promise<{ exitCode: number; signal?: number }>((resolve) => term.onExit(resolve));
  return {
    output: () => output,
    write: (data) => term.write(data),
    resize: (c, r) => term.resize(c, r),
    kill: () => term.kill('SIGKILL'),
    async waitFor(pattern, timeoutMs = waitMs) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${pattern}; screen: ${JSON.stringify(output)}`);
        await sleep(20);
      }
    },
    exit,
  };
}
