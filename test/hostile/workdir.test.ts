/**
 * Working directories a client may not have (issue 7 §2): escaping the base
 * directory by `..`, absolute paths, NUL bytes, and symlinks inside the base
 * that lead outside it (decided: refused, docs/limits.md). The command they
 * name writes a file into its working directory: none may appear anywhere.
 */
import { existsSync, mkdirSync, realpathSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { cleanup, freePort, run, writeFile } from '../e2e/harness.js';
import {
  converse,
  hello,
  makeWorkspace,
  refusal,
  request,
  RSS_LIMIT,
  rss,
  SKIP_UNBUILT,
  startServer,
  T,
} from './harness.js';

t.test('working directories outside the base are refused', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const ws = await makeWorkspace(
    `baseDirectory = base\n[ srv:${port} ]\nmarker /bin/sh -c 'echo ran > ran-here; echo ran'\nwhere /bin/pwd\n`,
  );
  const base = join(ws.dir, 'base');
  const outside = join(ws.dir, 'outside');
  mkdirSync(join(base, 'sub'), { recursive: true });
  mkdirSync(join(outside, 'deeper'), { recursive: true });
  writeFile(join(base, 'file.txt'), 'not a directory\n');
  symlinkSync('sub', join(base, 'in-link'));
  symlinkSync('../outside', join(base, 'out-link'));
  symlinkSync(outside, join(base, 'abs-out-link'));
  symlinkSync('out-link', join(base, 'chain-link'));
  const server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir });
  t.teardown(async () => {
    await server.stop();
    cleanup(ws.dir);
  });
  const realBase = realpathSync(base);
  const traces = (): string[] =>
    [ws.dir, base, join(base, 'sub'), outside, join(outside, 'deeper'), '/tmp', '/']
      .map((dir) => join(dir, 'ran-here'))
      .filter((file) => existsSync(file));

  const refused: { cwd: string | Buffer; why: RegExp }[] = [
    { cwd: '..', why: /outside the base directory/ },
    { cwd: '../outside', why: /outside the base directory/ },
    { cwd: 'sub/../..', why: /outside the base directory/ },
    { cwd: 'sub/../../outside/deeper', why: /outside the base directory/ },
    { cwd: '../../../../../../../../tmp', why: /outside the base directory/ },
    { cwd: outside, why: /absolute; it must be relative to the base directory/ },
    { cwd: base, why: /absolute; it must be relative to the base directory/ },
    { cwd: '/tmp', why: /absolute; it must be relative to the base directory/ },
    { cwd: Buffer.from('sub\0/../..'), why: /contains NUL/ },
    { cwd: Buffer.from('\0'), why: /contains NUL/ },
    { cwd: 'out-link', why: /a symlink leads outside the base directory/ },
    { cwd: 'out-link/deeper', why: /a symlink leads outside the base directory/ },
    { cwd: 'abs-out-link', why: /a symlink leads outside the base directory/ },
    { cwd: 'chain-link/deeper', why: /a symlink leads outside the base directory/ },
    { cwd: 'missing', why: /working directory .*\/base\/missing does not exist/ },
    { cwd: 'file.txt', why: /working directory .*\/base\/file\.txt is not a directory/ },
  ];

  const check = async (t: Test, modern: boolean) => {
    const results = await Promise.all(
      refused.map(async ({ cwd, why }) => {
        const bytes = request('marker', { cwd });
        return { cwd, why, result: await converse(port, modern ? Buffer.concat([hello(), bytes]) : bytes) };
      }),
    );
    for (const { cwd, why, result } of results) {
      const r = refusal(result);
      const shown = JSON.stringify(cwd.toString());
      t.ok(result.closed, `${shown}: closed`);
      t.same(
        r.types,
        modern ? [T.HELLO, T.ERROR, T.EXIT_CODE] : [T.STDERR_DATA, T.EXIT_CODE],
        `${shown}: a refusal`,
      );
      t.match(r.message, why, `${shown}: ${r.message.trim()}`);
      if (!modern) t.match(r.message, /^k8psh: .*\n$/);
      t.notMatch(r.message, /\0/, 'no NUL in the message');
      t.equal(r.code, 1, `${shown}: exit code 1`);
    }
    t.same(traces(), [], 'the command ran nowhere');
  };
  t.test('as an original client', (t) => check(t, false));
  t.test('as a new client', (t) => check(t, true));

  t.test('allowed: inside the base, also through an inner symlink', async (t) => {
    const where = async (cwd: string) => {
      const r = await converse(port, Buffer.concat([hello(), request('where', { cwd })]));
      const out = Buffer.concat(r.frames.filter((f) => f.type === T.STDOUT_DATA).map((f) => f.payload!));
      return { out: out.toString(), code: refusal(r).code };
    };
    t.same(await where(''), { out: `${realBase}\n`, code: 0 });
    t.same(await where('sub'), { out: `${join(realBase, 'sub')}\n`, code: 0 });
    t.same(await where('./sub/'), { out: `${join(realBase, 'sub')}\n`, code: 0 });
    t.same(await where('in-link'), { out: `${join(realBase, 'sub')}\n`, code: 0 }, 'a symlink to inside');
    // `..` is resolved on the path as written, before symlinks: out-link/.. is the base itself,
    // and the command runs there (not in the parent of the link's target).
    t.same(await where('out-link/..'), { out: `${realBase}\n`, code: 0 });
    t.same(await where('sub/../sub'), { out: `${join(realBase, 'sub')}\n`, code: 0 });
  });

  t.test('the server is unharmed', async (t) => {
    const r = await run(join(ws.bin, 'where'), [], { env: ws.env, cwd: join(base, 'sub') });
    t.equal(r.code, 0, r.err);
    t.equal(r.out, `${join(realBase, 'sub')}\n`, 'a stub in base/sub runs in base/sub');
    t.ok(rss(server.process.pid!) < RSS_LIMIT);
    t.notMatch(server.stderr(), /internal error/);
  });
});
