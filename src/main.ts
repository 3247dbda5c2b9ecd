/**
 * One executable, three faces (SPEC A1): the only place that picks one (the decision is
 * src/mode.ts). `k8pshd` is the server, `k8psh` the front end (`-s` makes it the server,
 * `--health` is the front end's under either name), any other name is a stub running that
 * command remotely. Only the stub path is imported eagerly enough to matter: the server and the
 * front end are loaded on demand, each as its own lazy bundle in the executable.
 */
import { chooseMode, invokedName } from './mode.js';
import { reportAndExit } from './client/report.js';

async function main(): Promise<void> {
  const mode = chooseMode(invokedName(), process.argv.slice(2));
  switch (mode.kind) {
    case 'version': {
      const { versionLine } = await import('./version.js');
      process.stdout.write(`${mode.name} ${versionLine()}\n`);
      return;
    }
    case 'server': {
      const { serverMain } = await import('./server/main.js');
      return serverMain(mode.args);
    }
    case 'frontend': {
      const { frontendMain } = await import('./client/frontend.js');
      return frontendMain(mode.args);
    }
    case 'stub': {
      const { runCommand, exitLike } = await import('./client/run-command.js');
      exitLike(await runCommand(mode.command, mode.args));
    }
  }
}

main().catch(reportAndExit);
