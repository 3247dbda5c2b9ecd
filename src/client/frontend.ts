/**
 * `k8psh [options] [command args...]`: the client front end (SPEC A1). The
 * first word that is not an option is the command; everything after it goes
 * to the command untouched, even words that look like options.
 */
import yargs from 'yargs';
import { versionLine } from '../version.js';
import { ClientError } from './fail.js';
import { install } from './install.js';
import { configPath, exitLike, runCommand } from './run-command.js';

const SERVER_FLAGS = new Set(['-s', '--server']);

export async function frontendMain(args: string[]): Promise<void> {
  // `-s` hands every other argument to the server parser, wherever it stands among the options.
  const commandIndex = firstCommandIndex(args);
  const head = commandIndex < 0 ? args : args.slice(0, commandIndex);
  if (head.some((arg) => SERVER_FLAGS.has(arg))) {
    const { serverMain } = await import('../server/main.js');
    return serverMain(args.filter((arg, i) => i >= head.length || !SERVER_FLAGS.has(arg)));
  }

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
      alias: 'n',
      type: 'string',
      description: 'With --health: the server to check',
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
      throw new ClientError(error?.message ?? message, 1);
    })
    .wrap(Math.min(100, process.stdout.columns || 100));

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
    return checkHealth(configPath(argv.config), argv.name);
  }
  if (argv['selftest-pty']) {
    const { ptySelfTest } = await import('../native/pty.js');
    process.stdout.write(`${await ptySelfTest()}\n`);
    return;
  }

  const [command, ...rest] = argv._.map(String);
  if (command === undefined) throw new ClientError('no command given (try k8psh --help)', 1);
  const tty = argv['no-tty'] ? false : argv.tty ? true : undefined;
  // yargs stops at the command: take the rest verbatim from the original words.
  const passthrough = args.slice(args.length - rest.length);
  exitLike(await runCommand(command, passthrough, { configFile: argv.config, tty }));
}

/** Index of the first word that is neither an option nor an option's value, or -1. */
function firstCommandIndex(args: string[]): number {
  const takesValue = new Set(['-c', '--config', '--install', '--convert-config', '-n', '--name']);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return i + 1 < args.length ? i + 1 : -1;
    if (!arg.startsWith('-') || arg === '-') return i;
    if (takesValue.has(arg)) i++;
  }
  return -1;
}
