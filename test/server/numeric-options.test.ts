/** The rule of every numeric k8pshd option (README option table, docs/limits.md), table-driven. */
import t from 'tap';
import { parseServerOptions, type ServerOptions } from '../../src/server/options.js';

const MAX_SAFE = '9007199254740991';
const PAST_SAFE = '9007199254740992';

async function parse(args: string[]): Promise<ServerOptions> {
  const options = await parseServerOptions(args, () => {});
  if (!options) throw new Error('help or version answered');
  return options;
}

const pick: Record<string, (o: ServerOptions) => number> = {
  'max-connections': (o) => o.maxConnections,
  timeout: (o) => o.timeout,
  'request-timeout': (o) => o.requestTimeoutMs,
  'max-sessions': (o) => o.maxSessions,
  'max-request-bytes': (o) => o.maxRequestBytes,
  'max-frame-size': (o) => o.limits.maxFramePayload,
  'max-arguments': (o) => o.limits.maxArguments,
  'max-argument-bytes': (o) => o.limits.maxArgumentBytes,
  'max-environment-variables': (o) => o.limits.maxEnvironmentVariables,
  'max-environment-bytes': (o) => o.limits.maxEnvironmentBytes,
};

/** Not integers, whatever the option: each a one-line usage error. */
const NOT_INTEGERS = ['', 'abc', '1.5', '1.0', '1e3', '0x10', ' 5', '5 ', '5abc', 'Infinity', 'NaN'];

for (const option of ['max-connections', 'timeout']) {
  const meaning = option === 'timeout' ? 'never' : 'unlimited';
  t.test(`--${option}: the original's meaning for every integer; negative is ${meaning}`, async (t) => {
    const cases: Array<[string, number]> = [
      ['0', 0],
      ['1', 1],
      ['+7', 7],
      ['-0', 0],
      ['-1', -1],
      ['-2', -1],
      ['-2147483649', -1],
      ['-99999999999999999999999', -1],
      ['2147483647', 2147483647],
      ['2147483648', 2147483648],
      [MAX_SAFE, Number.MAX_SAFE_INTEGER],
    ];
    for (const [value, expected] of cases) {
      t.equal(pick[option]!(await parse([`--${option}`, value])), expected, `--${option} ${value}`);
      t.equal(pick[option]!(await parse([`--${option}=${value}`])), expected, `--${option}=${value}`);
    }
    t.equal(pick[option]!(await parse([])), -1, 'default -1');
    for (const value of [...NOT_INTEGERS, PAST_SAFE, '18446744073709551616'])
      await t.rejects(parse([`--${option}=${value}`]), {
        message: `--${option} must be an integer up to ${MAX_SAFE} (negative: ${meaning}), not ${JSON.stringify(value)}`,
      });
  });
}

for (const option of Object.keys(pick).filter((o) => o !== 'max-connections' && o !== 'timeout')) {
  const max = option === 'request-timeout' ? 2147483647 : Number.MAX_SAFE_INTEGER;
  t.test(`--${option}: an integer from 1 to ${max}`, async (t) => {
    for (const value of ['1', '4096', String(max)])
      t.equal(pick[option]!(await parse([`--${option}`, value])), Number(value), value);
    const tooBig = option === 'request-timeout' ? ['2147483648', MAX_SAFE] : [PAST_SAFE];
    for (const value of [...NOT_INTEGERS, '0', '-0', '-1', '-5', ...tooBig])
      await t.rejects(parse([`--${option}`, value]), {
        message: `--${option} must be an integer from 1 to ${max}, not ${JSON.stringify(value)}`,
      });
  });
}

t.test('short options and section-line order', async (t) => {
  const o = await parse(['-m', '-1', '-t', '-1', '-m', '3', '-t=250']);
  t.equal(o.maxConnections, 3, 'the last one wins');
  t.equal(o.timeout, 250);
  await t.rejects(parse(['-m']), /Not enough arguments following: m/);
});
