/**
 * One executable, three faces (SPEC A1): the name it is invoked by decides.
 * `k8pshd` is the server, `k8psh` the front end, any other name is a stub
 * running that command remotely. Only the stub path is imported eagerly
 * enough to matter: the others are loaded on demand.
 */
import { basename } from 'node:path';
import { reportAndExit } from './client/report.js';

/** In the single executable argv[1] is the name we were invoked by; under node it is the script. */
export function invokedName(argv = process.argv): string {
  return basename(argv[1] ?? 'k8psh').replace(/\.[cm]?[jt]s$/, '');
}

async function main(): Promise<void> {
  const name = invokedName();
  const args = process.argv.slice(2);
  // Probes and scripts ask for the version often: answer it without loading the option parser.
  if (
    (name === 'k8psh' || name === 'k8pshd') &&
    args.length === 1 &&
    (args[0] === '--version' || args[0] === '-v')
  ) {
    const { versionLine } = await import('./version.js');
    process.stdout.write(`${name} ${versionLine()}\n`);
    return;
  }
  if (name === 'k8pshd') {
    const { serverMain } = await import('./server/main.js');
    return serverMain(args);
  }
  if (name === 'k8psh' || name === 'main') {
    const { frontendMain } = await import('./client/frontend.js');
    return frontendMain(args);
  }
  const { runCommand, exitLike } = await import('./client/run-command.js');
  exitLike(await runCommand(name, args));
}

main().catch(reportAndExit);
