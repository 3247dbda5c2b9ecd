import t from 'tap';
import { relayWantsPty, ttyChoice } from '../../src/client/terminal.js';
import { stdinIsNull } from '../../src/client/run-command.js';
import { UsageError } from '../../src/errors.js';

t.test('pseudo-terminal: forced, else K8PSH_TTY, else left to the path', async (t) => {
  t.equal(ttyChoice(true, {}), true);
  t.equal(ttyChoice(false, { K8PSH_TTY: '1' }), false, '-T wins over the environment');
  t.equal(ttyChoice(undefined, { K8PSH_TTY: '1' }), true);
  t.equal(ttyChoice(undefined, { K8PSH_TTY: 'true' }), true);
  t.equal(ttyChoice(undefined, { K8PSH_TTY: '0' }), false);
  t.equal(ttyChoice(undefined, {}), undefined, 'no choice: terminals are passed, or relayed with a pty');
  // Under tap stdin/stdout are pipes: the relayed path would not ask for one.
  t.equal(relayWantsPty(), false);
});

t.test('K8PSH_STDIN: null, unset or empty; anything else is a usage error', async (t) => {
  t.equal(stdinIsNull({}), false);
  t.equal(stdinIsNull({ K8PSH_STDIN: '' }), false);
  t.equal(stdinIsNull({ K8PSH_STDIN: 'null' }), true);
  t.throws(() => stdinIsNull({ K8PSH_STDIN: 'zero' }), UsageError);
});
