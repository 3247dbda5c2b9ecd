/**
 * The server's loggers (src/log.ts): one child per component, made once (the server asks for one per
 * session: a pino child per session cost time on every call), with its level from K8PSH_DEBUG; a new
 * root (initLogger) gives new children.
 */
import { PassThrough } from 'node:stream';
import t from 'tap';

process.env.K8PSH_DEBUG = 'Process';
const { initLogger, logger } = await import('../../src/log.js');

function capture(): { stream: PassThrough; lines: () => Record<string, unknown>[] } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return {
    stream,
    lines: () =>
      Buffer.concat(chunks)
        .toString()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

t.test('one logger per component, each at its own level', async (t) => {
  const out = capture();
  initLogger('json', out.stream);
  const process1 = logger('Process');
  t.equal(logger('Process'), process1, 'the same child for the same component');
  t.not(logger('Main'), process1, 'another for another component');
  process1.debug('debug on');
  logger('Main').debug('debug off');
  logger('Main').info('info');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(
    out.lines().map((line) => [line.component, line.msg]),
    [
      ['Process', 'debug on'],
      ['Main', 'info'],
    ],
  );
});

t.test('a new root logger gives new children, writing to it', async (t) => {
  const first = capture();
  initLogger('json', first.stream);
  const old = logger('Process');
  const second = capture();
  initLogger('json', second.stream);
  t.not(logger('Process'), old);
  logger('Process').info('to the second');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(first.lines(), []);
  t.same(
    second.lines().map((line) => line.msg),
    ['to the second'],
  );
});
