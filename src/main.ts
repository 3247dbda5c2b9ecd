/**
 * One executable, three faces (docs/session.md, "Faces"): the only place that picks one (the decision is
 * src/face.ts). `k8pshd` is the server, `k8psh` the front end (`-s` makes it the server,
 * `--health` is the front end's under either name), any other name is a stub running that
 * command remotely. Only the stub path is imported eagerly enough to matter: the server and the
 * front end are loaded on demand, each as its own lazy bundle in the executable.
 */
import { chooseFace, invokedName } from './face.js';
import { reportAndExit } from './client/report.js';

async function main(): Promise<void> {
  const face = chooseFace(invokedName(), process.argv.slice(2));
  switch (face.kind) {
    case 'version': {
      const { versionLine } = await import('./version.js');
      process.stdout.write(`${face.name} ${versionLine()}\n`);
      return;
    }
    case 'server': {
      const { serverMain } = await import('./server/main.js');
      return serverMain(face.args);
    }
    case 'frontend': {
      const { frontendMain } = await import('./client/frontend.js');
      return frontendMain(face.args);
    }
    case 'stub': {
      const { runCommand, exitLike } = await import('./client/run-command.js');
      exitLike(await runCommand(face.command, face.args));
    }
  }
}

main().catch(reportAndExit);
