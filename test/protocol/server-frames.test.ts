import t from 'tap';
import { encodeExit, encodeHelloReply, encodeRefusal } from '../../src/protocol/server-frames.js';
import { STDERR_END, STDIN_END, STDOUT_END } from '../../src/protocol/data.js';
import { ExitCode } from '../../src/protocol/constants.js';
import { hex } from './fixtures/helpers.js';

t.test('end-of-stream frames', async (t) => {
  t.equal(hex(STDIN_END), '04 00 00 00 00');
  t.equal(hex(STDOUT_END), '05 00 00 00 00');
  t.equal(hex(STDERR_END), '06 00 00 00 00');
});

t.test('HELLO reply', async (t) => {
  t.equal(hex(encodeHelloReply(1, 7)), '40 0a 00 00 00 6b 38 70 32 01 00 07 00 00 00');
});

t.test('encodeExit', async (t) => {
  t.equal(hex(encodeExit(0, null, false)), '08 00 00 00 00', 'legacy, normal exit');
  t.equal(hex(encodeExit(0, null, true)), '08 00 00 00 00', 'modern, normal exit: the same');
  t.equal(hex(encodeExit(42, null, true)), '08 2a 00 00 00');
  t.equal(hex(encodeExit(-1, null, false)), '08 ff ff ff ff');
  t.equal(hex(encodeExit(null, null, false)), '08 01 00 00 00', 'no code and no signal: failure');
  t.equal(hex(encodeExit(null, 9, false)), '08 89 00 00 00', 'legacy, killed: EXIT_CODE 128+9 only');
  t.equal(
    hex(encodeExit(null, 9, true)),
    '43 09 00 00 00 08 89 00 00 00',
    'modern, killed: EXIT_SIGNAL 9 then 137',
  );
  t.equal(hex(encodeExit(0, 15, true)), '43 0f 00 00 00 08 8f 00 00 00', 'the signal wins over a code');
  t.equal(hex(encodeExit(0, 2, false)), '08 82 00 00 00');
});

t.test('encodeRefusal', async (t) => {
  t.equal(
    hex(encodeRefusal('nope', ExitCode.NOT_FOUND, true)),
    '41 04 00 00 00 6e 6f 70 65 08 7f 00 00 00',
    'modern: ERROR then EXIT_CODE 127',
  );
  const legacy = encodeRefusal('nope', ExitCode.NOT_EXECUTABLE, false);
  t.equal(
    hex(legacy),
    '06 0c 00 00 00 6b 38 70 73 68 3a 20 6e 6f 70 65 0a 08 7e 00 00 00',
    'legacy: STDERR_DATA "k8psh: nope\\n" then EXIT_CODE 126',
  );
  t.equal(legacy.subarray(5, 17).toString(), 'k8psh: nope\n');
  t.equal(hex(encodeRefusal('x', ExitCode.FAILURE, false)).slice(-14), '08 01 00 00 00');
});
