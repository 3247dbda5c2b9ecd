/**
 * The test side's own frames (test/lib/frames.mjs), which the hostile, protocol and legacy tests and
 * the benchmark all speak through: the bytes docs/protocol.md's table gives (an independent encoder: never the codec's), and a parser that keeps a
 * torn last frame for later.
 */
import t from 'tap';
import { parseFrames, stringFrame, valueFrame } from './frames.mjs';

t.test('frames are the bytes docs/protocol.md gives', async (t) => {
  t.equal(valueFrame(8, 3).toString('hex'), '0803000000', 'EXIT_CODE 3');
  t.equal(valueFrame(8, -1).toString('hex'), '08ffffffff', 'a negative value as its u32');
  t.equal(stringFrame(3, 'gcc').toString('hex'), '0303000000676363', 'START_COMMAND gcc');
  t.equal(stringFrame(2, 'é').toString('hex'), '0202000000c3a9', 'the UTF-8 length');
  t.equal(stringFrame(4).toString('hex'), '0400000000', 'an empty payload: the end of stdin');
});

t.test('parseFrames: string and value frames, a torn tail left over', async (t) => {
  const whole = Buffer.concat([stringFrame(5, 'out'), valueFrame(0x43, 15), valueFrame(8, -2)]);
  const { frames, rest } = parseFrames(Buffer.concat([whole, stringFrame(6, 'err').subarray(0, 6)]));
  t.same(
    frames.map(({ type, value, payload }) => [type, value, payload?.toString()]),
    [
      [5, 3, 'out'],
      [0x43, 15, undefined],
      [8, -2, undefined],
    ],
  );
  t.equal(rest, 6, 'the torn STDERR frame waits');
  t.same(parseFrames(stringFrame(0x41, 'no')).frames[0]?.payload?.toString(), 'no', 'ERROR is a string');
  t.same(parseFrames(Buffer.alloc(4)), { frames: [], rest: 4 }, 'half a header');
});
