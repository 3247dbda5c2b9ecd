/**
 * The recording command (recorder.c), compiled at test time, and what it recorded: the real
 * k8pshd runs it, and a test compares what each way of calling a stub made the command receive.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'recorder.c');

/** Compiles the recorder into `dir` (with the project's C flags); its path. */
export function buildRecorder(dir: string): string {
  const output = join(dir, 'recorder');
  execFileSync(process.env.CC ?? 'cc', ['-O1', '-Wall', '-Wextra', '-Werror', '-o', output, SOURCE]);
  return output;
}

/** What one run of the recorder received. */
export interface Received {
  argv: string[];
  /** Its whole environ, in the order it had it. */
  environ: string[];
  cwd: string;
  /** Kind of each of the descriptors 0-2, e.g. "0:fifo:notty". */
  fds: string[];
}

/** Parses one record file (NUL-terminated items, tagged by their first byte). */
export function parseRecord(bytes: Buffer): Received {
  const received: Received = { argv: [], environ: [], cwd: '', fds: [] };
  const text = bytes.toString('utf8');
  for (const item of text.split('\0').slice(0, -1)) {
    const value = item.slice(1);
    if (item[0] === 'A') received.argv.push(value);
    else if (item[0] === 'E') received.environ.push(value);
    else if (item[0] === 'C') received.cwd = value;
    else if (item[0] === 'F') received.fds.push(value);
    else throw new Error(`bad record item ${JSON.stringify(item)}`);
  }
  return received;
}

/** A directory the recorder writes its records into. */
export class RecordBox {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** Every record written since the last take(), oldest pid first; the box is emptied. */
  take(): Received[] {
    const names = readdirSync(this.dir).filter((name) => name.startsWith('rec-'));
    names.sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
    const records = names.map((name) => parseRecord(readFileSync(join(this.dir, name))));
    for (const name of names) rmSync(join(this.dir, name));
    return records;
  }

  /** The one record since the last take() (an error if there are none or several). */
  one(): Received {
    const records = this.take();
    if (records.length !== 1) throw new Error(`expected one record, found ${records.length}`);
    return records[0]!;
  }
}
