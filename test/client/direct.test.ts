/**
 * The client's choice of path: stdio is passed to the server (direct), terminals included, unless it
 * is disabled or nothing answers on the local socket; the caller then relays.
 */
import t from 'tap';
import { directStdioWanted, runDirect } from '../../src/client/direct.js';
import { syscalls } from '../../src/native/syscalls.js';

const native = syscalls();

t.test('stdio is passed unless K8PSH_DIRECT_STDIO=0', { skip: !native && 'no addon' }, async (t) => {
  t.equal(directStdioWanted({}), true);
  t.equal(directStdioWanted({ K8PSH_DIRECT_STDIO: '1' }), true);
  t.equal(directStdioWanted({ K8PSH_DIRECT_STDIO: '0' }), false);
});

t.test(
  'no server on the local socket: null, nothing ran, relay instead',
  { skip: !native && 'no addon' },
  async (t) => {
    // A port nobody listens on (abstract socket names are per network namespace).
    const target = { serverName: 'nobody', serverUid: undefined, port: 65000, connectTimeoutMs: 0 };
    const command = { workingDirectory: '', arguments: [], environment: [], command: 'x' };
    t.equal(await runDirect(target, command), null);
  },
);
