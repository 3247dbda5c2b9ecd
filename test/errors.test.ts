/** src/errors.ts: stable codes, exit statuses that follow from the class, one message prefix. */
import t from 'tap';
import {
  CommandNotFoundError,
  ConnectionError,
  errorLine,
  K8pshError,
  ProtocolError,
  SetupError,
  UnhealthyError,
  UsageError,
} from '../src/errors.js';

t.test('each class: its code and exit status', async (t) => {
  const cases: [K8pshError, string, number][] = [
    [new K8pshError('x'), 'K8PSH_ERR', 1],
    [new UsageError('x'), 'K8PSH_ERR_USAGE', 1],
    [new CommandNotFoundError('x'), 'K8PSH_ERR_COMMAND_NOT_FOUND', 127],
    [new ConnectionError('x'), 'K8PSH_ERR_CONNECTION', 255],
    [new ProtocolError('x'), 'K8PSH_ERR_PROTOCOL', 255],
    [new SetupError('x'), 'K8PSH_ERR_SETUP', 1],
    [new UnhealthyError('x'), 'K8PSH_ERR_UNHEALTHY', 1],
  ];
  for (const [error, code, exitCode] of cases) {
    t.ok(error instanceof K8pshError && error instanceof Error, error.name);
    t.equal(error.code, code);
    t.equal(error.exitCode, exitCode, `${error.name} exits ${exitCode}`);
    t.equal(error.message, 'x');
  }
  t.ok(new ProtocolError('x') instanceof ConnectionError, 'a protocol error is a connection failure');
});

t.test('the message prefix', async (t) => {
  t.equal(errorLine('boom'), 'k8psh: boom\n');
  t.equal(errorLine('boom', 'k8pshd'), 'k8pshd: boom\n');
});
