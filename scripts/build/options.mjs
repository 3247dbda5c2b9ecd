/**
 * The build's command line (docs/build.md, "Options"), read by node:util's parseArgs. A mistake is
 * refused before any work: `build: <what>` and the usage line on stderr, exit 2 (a failed build is
 * exit 1). $K8PSH_ARCH is the default of --arch (scripts/targets.mjs).
 */
import console from 'node:console';
import * as path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { isCross, targetArch } from '../targets.mjs';
import { root } from './root.mjs';

const USAGE =
  'usage: node scripts/build.mjs [--arch amd64|arm64] [--entry FILE] [--out DIR] [--name NAME] [--no-strip] [--no-code-cache] [--bundle-only] [--if-able] [--quiet|--verbose]';

/**
 * Every option, spelt as typed: `--no-strip` is an option of its own (parseArgs' allowNegative
 * would also accept a `--strip` that the build never had).
 */
const OPTIONS = {
  arch: { type: 'string' },
  entry: { type: 'string' },
  out: { type: 'string' },
  name: { type: 'string', default: 'k8psh' },
  'no-strip': { type: 'boolean', default: false },
  'no-code-cache': { type: 'boolean', default: false },
  'bundle-only': { type: 'boolean', default: false },
  'if-able': { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h' },
};

function usage(message) {
  if (message) console.error(`build: ${message}`);
  console.error(USAGE);
  process.exit(2);
}

/**
 * The options of argv: { arch, entry, out, name, strip, codeCache, bundleOnly, ifAble, quiet, verbose },
 * paths absolute. Exits through usage() on anything else.
 */
export function parseOptions(argv) {
  // Not `strict: true`: its errors are several lines and suggest a `--` this command does not take.
  // The tokens let every mistake name the argument as it was typed.
  const { values, tokens } = parseArgs({
    args: argv,
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of tokens) {
    const known = token.kind === 'option' && Object.hasOwn(OPTIONS, token.name);
    if (!known) usage(`unknown argument ${argv[token.index]}`);
    const { type } = OPTIONS[token.name];
    if (type === 'string' && !token.value) usage(`${token.rawName} needs a value`);
    if (type === 'boolean' && token.value !== undefined) usage(`${token.rawName} takes no value`);
    if (token.name === 'help') usage();
  }
  if (values.name.includes('/') || values.name === 'k8pshd')
    usage('--name must be a plain file name, not k8pshd');
  let arch;
  try {
    arch = targetArch(values.arch);
  } catch (error) {
    usage(error.message);
  }
  return {
    arch,
    entry: values.entry === undefined ? path.join(root, 'src/main.ts') : path.resolve(values.entry),
    // amd64 stays dist/k8psh; another architecture gets its own directory (its own runtime beside it).
    out:
      values.out === undefined
        ? path.join(root, 'dist', ...(isCross(arch) ? [arch] : []))
        : path.resolve(values.out),
    name: values.name,
    strip: !values['no-strip'],
    codeCache: !values['no-code-cache'],
    bundleOnly: values['bundle-only'],
    ifAble: values['if-able'],
    quiet: values.quiet,
    verbose: values.verbose,
  };
}
