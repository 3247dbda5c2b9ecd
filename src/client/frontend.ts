/**
 * `k8psh [options] [command args...]`: the client front end (docs/session.md, "Faces"). The
 * first word that is not an option is the command; everything after it goes
 * to the command untouched, even words that look like options.
 */
import yargs from 'yargs';
import { HELP_WIDTH } from '../help-width.js';
import { versionLine } from '../version.js';
import { UsageError } from '../errors.js';
import { install } from './install.js';
import { exitLike, runCommand } from './run-command.js';
import { isHealthCall } from '../face.js';

/** `-s`/`--server` is listed for the help text: src/main.ts has made this the server before. */
export async function frontendMain(args: string[]): Promise<void> {
  // `-n` is ssh's: stdin from /dev/null. With --health it stays the server's `-n NAME` (README.md,
  // "Server k8pshd").
  const health = isHealthCall(args);
  const parser = yargs(args)
    .scriptName('k8psh')
    .usage(
      'Usage: k8psh [options] command [args...]\n  Executes a k8psh client command on the server configured for it',
    )
    .parserConfiguration({ 'halt-at-non-option': true, 'populate--': false })
    .option('config', {
      alias: 'c',
      type: 'string',
      description: 'The configuration file. Defaults to $K8PSH_CONFIG, else ./k8psh.conf',
    })
    .option('install', {
      type: 'string',
      description: 'Installs this executable to FILE (hard link, else copy) and exits',
      requiresArg: true,
    })
    .option('server', {
      alias: 's',
      type: 'boolean',
      description: 'Runs as the server (k8pshd); all other arguments go to it',
    })
    .option('tty', { alias: 't', type: 'boolean', description: 'Forces a pseudo-terminal for the command' })
    .option('no-tty', { alias: 'T', type: 'boolean', description: 'Disables the pseudo-terminal' })
    .option('null-stdin', {
      ...(health ? {} : { alias: 'n' }),
      type: 'boolean',
      description: 'Stdin from /dev/null, as ssh -n (stubs: K8PSH_STDIN=null)',
    })
    .option('convert-config', {
      type: 'string',
      description: 'Prints the TOML twin of a k8psh.conf file and exits',
      requiresArg: true,
    })
    .option('health', {
      type: 'boolean',
      description: 'Exits 0 when the server named by --name (or $K8PSH_NAME) accepts connections',
    })
    .option('name', {
      ...(health ? { alias: 'n' } : {}),
      type: 'string',
      description: 'With --health (-n): the server to check',
      hidden: false,
    })
    .option('selftest-pty', { type: 'boolean', hidden: true })
    .help('help')
    .alias('help', 'h')
    .version('version', 'Prints the version and exits', `k8psh ${versionLine()}`)
    .alias('version', 'v')
    .strictOptions()
    .exitProcess(false)
    .fail((message, error) => {
      throw new UsageError(error?.message ?? message);
    })
    .wrap(HELP_WIDTH());

  const argv = await parser.parse();
  if (argv.help || argv.version) return;

  if (argv.install !== undefined) {
    install(argv.install);
    return;
  }
  if (argv['convert-config'] !== undefined) {
    const { convertConfigFile } = await import('./convert-config.js');
    process.stdout.write(await convertConfigFile(argv['convert-config']));
    return;
  }
  if (argv.health) {
    const { checkHealth } = await import('./health.js');
    return checkHealth(argv.config, argv.name);
  }
  if (argv['selftest-pty']) {
    const { ptySelfTest } = await import('../native/pty.js');
    process.stdout.write(`${await ptySelfTest()}\n`);
    return;
  }

  const [command, ...rest] = argv._.map(String);
  if (command === undefined) throw new UsageError('no command given (try k8psh --help)');
  const tty = argv['no-tty'] ? false : argv.tty ? true : undefined;
  // yargs stops at the command: take the rest verbatim from the original words.
  const passthrough = args.slice(args.length - rest.length);
  const nullStdin = argv['null-stdin'] ? true : undefined;
  exitLike(
    await runCommand(command, passthrough, { configFile: argv.config, tty, nullStdin, frontend: true }),
  );
}
