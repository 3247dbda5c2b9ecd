/** planCommand: the server's admission policy for one request, without a socket or a process. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import type { CommandConfig } from '../../src/config/model.js';
import { ExitCode, Feature } from '../../src/protocol/constants.js';
import type { SessionRequest } from '../../src/protocol/server-session.js';
import { planCommand, type PlanContext } from '../../src/server/plan.js';

const base = t.testdir({ work: { sub: {} }, bin: { tool: '#!/bin/sh\n', 'not-exec': 'x' } });
fs.chmodSync(path.join(base, 'bin/tool'), 0o755);

const command = (
  name: string,
  argv: string[],
  environment: CommandConfig['environment'] = [],
): CommandConfig => ({
  name,
  host: 'server',
  environment,
  argv,
});
const context: PlanContext = {
  serverName: 'server',
  baseDirectory: base,
  commands: new Map([
    [
      'tool',
      command(
        'tool',
        [path.join(base, 'bin/tool'), '--fixed'],
        [{ kind: 'required', name: 'A', value: 'a' }],
      ),
    ],
    ['relative', command('relative', ['../bin/tool'])],
    ['denied', command('denied', [path.join(base, 'bin/not-exec')])],
    ['missing', command('missing', ['no-such-program'])],
  ]),
};
const request = (overrides: Partial<SessionRequest> = {}): SessionRequest => ({
  workingDirectory: 'work',
  environment: new Map(),
  arguments: ['x'],
  command: 'tool',
  tty: null,
  ...overrides,
});

/** The plan with its working directory's descriptor checked and closed (a plan owns one). */
function planned(plan: ReturnType<typeof planCommand>): unknown {
  if (!('spawn' in plan)) return plan;
  const { fd, path: where } = plan.spawn.cwd;
  const same = fs.fstatSync(fd).ino === fs.statSync(where).ino;
  fs.closeSync(fd);
  return { spawn: { ...plan.spawn, cwd: same ? where : `descriptor ${fd} is not ${where}` } };
}

t.test('a command to run: executable, fixed then client arguments, directory, environment', async (t) => {
  const plan = planCommand(request({ environment: new Map([['A', 'client']]) }), context, 0, 0, {});
  t.same(planned(plan), {
    spawn: {
      file: path.join(base, 'bin/tool'),
      argv0: path.join(base, 'bin/tool'),
      args: ['--fixed', 'x'],
      cwd: path.join(base, 'work'),
      env: { A: 'client' },
      tty: null,
    },
  });
});

t.test('a relative executable is found from the working directory, and run from there', async (t) => {
  const plan = planCommand(request({ command: 'relative', workingDirectory: 'work' }), context, 0, 0, {});
  t.match(
    planned(plan),
    { spawn: { file: './../bin/tool' } },
    'relative: exec resolves it in the opened directory',
  );
});

t.test('a terminal adds TERM to the environment', async (t) => {
  const tty = { rows: 24, cols: 80, term: 'xterm' };
  const plan = planned(planCommand(request({ tty }), context, 0, 0, {}));
  t.match(plan, { spawn: { env: { A: 'a', TERM: 'xterm' } } });
});

t.test('refusals a shell would give', async (t) => {
  t.same(planCommand(request({ command: 'nope' }), context, 0, 0, {}), {
    refusal: 'nope: command not found on server server',
    code: ExitCode.NOT_FOUND,
  });
  t.same(planCommand(request({ command: 'missing' }), context, 0, 0, {}), {
    refusal: 'no-such-program: command not found',
    code: ExitCode.NOT_FOUND,
  });
  t.match(planCommand(request({ command: 'denied' }), context, 0, 0, {}), { code: ExitCode.NOT_EXECUTABLE });
  t.same(planCommand(request({ workingDirectory: '../..' }), context, 0, 0, {}), {
    refusal: 'invalid working directory "../.." (outside the base directory)',
    code: ExitCode.FAILURE,
  });
});

t.test('descriptors must match what the request says', async (t) => {
  const passing = Feature.PASSED_STDIO;
  t.ok('spawn' in (planned(planCommand(request(), context, passing, 3, {})) as object));
  t.same(planCommand(request(), context, passing, 2, {}), {
    protocolError: '2 descriptors came with a request that passes its stdio',
  });
  t.same(planCommand(request(), context, 0, 3, {}), {
    protocolError: '3 descriptors came with a request that does not pass its stdio',
  });
  t.same(planCommand(request({ tty: { rows: 1, cols: 1, term: 'x' } }), context, passing, 3, {}), {
    protocolError: '3 descriptors came with a request that passes its stdio and asks for a terminal',
  });
  // An unknown command is refused first, whatever came with it.
  t.match(planCommand(request({ command: 'nope' }), context, 0, 3, {}), { code: ExitCode.NOT_FOUND });
});

t.test(
  "a passed terminal brings the client's TERM; a pipe or the command's own TERM spec does not",
  async (t) => {
    const direct = Feature.PASSED_STDIO | Feature.ERRORS;
    const withTerm = request({ environment: new Map([['TERM', 'xterm-256color']]) });
    const env = (
      passedTerminal: boolean,
      req = withTerm,
      ctx = context,
    ): Record<string, string> | undefined => {
      const plan = planCommand(req, ctx, direct, 3, {}, passedTerminal);
      planned(plan);
      return 'spawn' in plan ? plan.spawn.env : undefined;
    };
    t.equal(env(true)?.TERM, 'xterm-256color');
    t.equal(env(false)?.TERM, undefined, 'pipes and files: the environment is exactly the specs');
    const own = {
      ...context,
      commands: new Map([
        [
          'tool',
          command(
            'tool',
            [path.join(base, 'bin/tool')],
            [{ kind: 'inherited', name: 'TERM', value: 'dumb' }],
          ),
        ],
      ]),
    };
    t.equal(env(true, withTerm, own)?.TERM, 'dumb', "the command's spec wins");
  },
);
