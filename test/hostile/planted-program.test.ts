/**
 * Attack: a program planted in the working directory runs as the server (issue 21, item 2). A
 * command configured as a bare name (`cat`) is looked up on the command's PATH only, as a shell does;
 * the original first tried the name relative to the working directory, where any client that can
 * write in the base can put an executable `cat`. `./name` keeps meaning "in the working directory".
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { cleanup, freePort, run, writeFile } from '../e2e/harness.js';
import { makeWorkspace, SKIP_UNBUILT, startServer } from './harness.js';

/** What the planted program does: leave a mark and say so. */
const PLANTED = '#!/bin/sh\ntouch "$(dirname "$0")/planted-ran"\necho "planted program ran as $(id -u)"\n';

const PATHS = [
  { name: 'native stub', env: {} },
  { name: 'TypeScript client', env: { K8PSH_NATIVE: '0' } },
  { name: 'relayed', env: { K8PSH_DIRECT_STDIO: '0' } },
];

t.test(
  'a program planted in the working directory does not run as the server',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const port = await freePort();
    const ws = await makeWorkspace(`[ srv:${port} ]\ncat\nhere ./tool\n`);
    const work = join(ws.dir, 'work');
    mkdirSync(work);
    writeFile(join(work, 'cat'), PLANTED, 0o755);
    writeFile(join(work, 'tool'), '#!/bin/sh\necho "tool of the working directory"\n', 0o755);
    chmodSync(join(work, 'tool'), 0o755);
    const server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir });
    t.teardown(async () => {
      await server.stop();
      cleanup(ws.dir);
    });
    for (const path of PATHS) {
      const env = { ...ws.env, ...path.env };
      const cat = await run(join(ws.bin, 'cat'), [], { env, cwd: work, input: 'real cat\n' });
      t.same(
        { code: cat.code, out: cat.out, err: cat.err },
        { code: 0, out: 'real cat\n', err: '' },
        `${path.name}: a bare name is the one on PATH (/bin/cat)`,
      );
      t.notOk(existsSync(join(work, 'planted-ran')), `${path.name}: the planted cat never ran`);
      const tool = await run(join(ws.bin, 'here'), [], { env, cwd: work });
      t.same(
        { code: tool.code, out: tool.out },
        { code: 0, out: 'tool of the working directory\n' },
        `${path.name}: ./name still means the working directory`,
      );
    }
  },
);
