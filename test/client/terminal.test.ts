import t from 'tap';
import { wantTty } from '../../src/client/terminal.js';

t.test('terminal mode: forced, K8PSH_TTY, else both ends terminals', async (t) => {
  t.equal(wantTty(true, {}), true);
  t.equal(wantTty(false, { K8PSH_TTY: '1' }), false, '-T wins over the environment');
  t.equal(wantTty(undefined, { K8PSH_TTY: '1' }), true);
  t.equal(wantTty(undefined, { K8PSH_TTY: '0' }), false);
  // Under tap stdin/stdout are pipes.
  t.equal(wantTty(undefined, {}), false);
});
