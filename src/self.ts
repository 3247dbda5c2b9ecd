/** The file that is "us", for the server's stubs and the front end's `--install`. */
import { realpathSync } from 'node:fs';
import { isSea } from 'node:sea';

/** The single executable, or the script node runs. */
export function selfExecutable(): string {
  return isSea() ? process.execPath : realpathSync(process.argv[1]!);
}
