/** parseServerOptions: k8pshd's command line (README.md, "Server k8pshd"), parsed in-process. */
import t from 'tap';
import { UsageError } from '../../src/errors.js';
import { parseServerOptions } from '../../src/server/options.js';

const parse = async (args: string[]) => {
  const warnings: string[] = [];
  const options = await parseServerOptions(args, (message) => warnings.push(message));
  return { options: options!, warnings };
};

t.test('defaults as the original', async (t) => {
  const { options } = await parse([]);
  t.match(options, {
    background: false,
    disableClientExecutables: false,
    executableDirectory: undefined,
    maxConnections: -1,
    timeout: -1,
    pidfile: '/run/k8pshd.pid',
    pidfileGiven: false,
    noWait: false,
  });
});

t.test('short and long forms, --opt value and --opt=value', async (t) => {
  const short = (await parse(['-b', '-e', 'bin', '-m', '3', '-n', 'srv', '-p', 'f.pid', '-t', '50', '-w']))
    .options;
  const long = (
    await parse([
      '--background',
      '--executable-directory=bin',
      '--max-connections',
      '3',
      '--name=srv',
      '--pidfile',
      'f.pid',
      '--timeout=50',
      '-w',
    ])
  ).options;
  t.same(short, long);
  t.match(short, {
    background: true,
    executableDirectory: 'bin',
    maxConnections: 3,
    name: 'srv',
    pidfile: 'f.pid',
    pidfileGiven: true,
    timeout: 50,
    noWait: true,
  });
});

t.test(
  'the last of a repeated option wins: section options come first, the command line after',
  async (t) => {
    const { options } = await parse(['--executable-directory', 'from-section', '-e', 'from-command-line']);
    t.equal(options.executableDirectory, 'from-command-line');
  },
);

t.test('unknown options: a usage error, or a warning with --ignore-invalid-arguments', async (t) => {
  await t.rejects(parse(['--bogus']), UsageError);
  await t.rejects(parse(['stray']), /unrecognized option stray/);
  const { options, warnings } = await parse(['-i', 'stray', '--bogus']);
  t.equal(options.ignoreInvalidArguments, true);
  t.same(warnings, ['Ignoring unrecognized option --bogus', 'Ignoring unrecognized option stray']);
  // An unknown option takes the next word as its value, as in yargs.
  t.same((await parse(['-i', '--bogus', 'value'])).warnings, ['Ignoring unrecognized option --bogus']);
});

t.test('--version answers and returns null', async (t) => {
  const write = process.stdout.write.bind(process.stdout);
  const printed: string[] = [];
  // Only yargs' answer is held back: tap writes its own report through the same stream.
  process.stdout.write = (chunk: string | Uint8Array, ...rest: never[]) =>
    /^k8pshd /.test(String(chunk)) ? printed.push(String(chunk)) > 0 : write(chunk, ...rest);
  try {
    t.equal(await parseServerOptions(['--version'], () => {}), null);
  } finally {
    process.stdout.write = write;
  }
  t.match(printed.join(''), /^k8pshd \d/);
});

t.test('--no-wait is the long form of -w', async (t) => {
  t.equal((await parse(['--no-wait'])).options.noWait, true);
});
