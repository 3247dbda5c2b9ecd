/**
 * Working directories a client may not have (issue 7 §2): escaping the base
 * directory by `..`, absolute paths, NUL bytes, and symlinks inside the base
 * that lead outside it (decided: refused, docs/limits.md). The command they
 * name writes a file into its working directory: none may appear anywhere. Each refusal is checked
 * word for word: a loose pattern let a refusal for the wrong reason pass (issue 21).
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

/**
 * Why a directory is refused, word for word as docs/limits.md ("What is refused") gives it: the one
 * place to change when a message changes. `shown` is the directory as the client sent it (control
 * characters as `?`), `path` the directory beneath the base.
 */
const REFUSED = {
  outside: (shown: string) => `invalid working directory "${shown}" (outside the base directory)`,
  absolute: (shown: string) =>
    `invalid working directory "${shown}" (absolute; it must be relative to the base directory)`,
  nul: (shown: string) => `invalid working directory "${shown}" (contains NUL)`,
  symlinkOutside: (shown: string) =>
    `invalid working directory "${shown}" (a symlink leads outside the base directory or is absolute)`,
  missing: (_shown: string, path: string) => `working directory ${path} does not exist`,
  notDirectory: (_shown: string, path: string) => `working directory ${path} is not a directory`,
} as const;

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

  const refused: { cwd: string | Buffer; why: keyof typeof REFUSED }[] = [
    { cwd: '..', why: 'outside' },
    { cwd: '../outside', why: 'outside' },
    { cwd: 'sub/../..', why: 'outside' },
    { cwd: 'sub/../../outside/deeper', why: 'outside' },
    { cwd: '../../../../../../../../tmp', why: 'outside' },
    { cwd: outside, why: 'absolute' },
    { cwd: base, why: 'absolute' },
    { cwd: '/tmp', why: 'absolute' },
    { cwd: Buffer.from('sub\0/../..'), why: 'nul' },
    { cwd: Buffer.from('\0'), why: 'nul' },
    { cwd: 'out-link', why: 'symlinkOutside' },
    { cwd: 'out-link/deeper', why: 'symlinkOutside' },
    { cwd: 'abs-out-link', why: 'symlinkOutside' },
    { cwd: 'chain-link/deeper', why: 'symlinkOutside' },
    { cwd: 'missing', why: 'missing' },
    { cwd: 'file.txt', why: 'notDirectory' },
  ];
  /** The message a case must get: `shown` as the server prints a peer's string. */
  const expected = (cwd: string | Buffer, why: keyof typeof REFUSED): string => {
    // eslint-disable-next-line no-control-regex
    const shown = cwd.toString().replace(/[\u0000-\u001f\u007f]/g, '?');
    return REFUSED[why](shown, join(realBase, cwd.toString()));
  };

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
      const message = expected(cwd, why);
      // A new client gets the message in an ERROR frame, an original one as its stderr line.
      t.equal(r.message, modern ? message : `k8psh: ${message}\n`, `${shown}: ${why}`);
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
