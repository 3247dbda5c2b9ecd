/** writeData: the one way both sides frame stdin/stdout/stderr bytes. */
import t from 'tap';
import { FrameDecoder } from '../../src/protocol/codec.js';
import { DATA_CHUNK_SIZE, DEFAULT_LIMITS, FrameType } from '../../src/protocol/constants.js';
import { writeData, type FrameSink } from '../../src/protocol/data.js';

/** Records writes, grouped by cork/uncork (what one writev would carry). */
function recorder(flowing = true): FrameSink & { batches: Buffer[][] } {
  const batches: Buffer[][] = [];
  let current: Buffer[] | null = null;
  return {
    batches,
    cork: () => void (current = []),
    uncork: () => {
      batches.push(current!);
      current = null;
    },
    write: (chunk) => {
      if (current === null) throw new Error('write outside cork/uncork');
      current.push(Buffer.from(chunk));
      return flowing;
    },
  };
}

t.test('a header and the payload itself, corked together', async (t) => {
  const sink = recorder();
  const payload = Buffer.from('hello');
  t.equal(writeData(sink, FrameType.STDOUT_DATA, payload), true);
  t.equal(sink.batches.length, 1);
  t.same(sink.batches[0]![0], Buffer.from([5, 5, 0, 0, 0]));
  t.same(sink.batches[0]![1], payload);
});

t.test('large chunks leave in DATA_CHUNK_SIZE pieces that decode back to the same bytes', async (t) => {
  const sink = recorder();
  const payload = Buffer.alloc(DATA_CHUNK_SIZE * 2 + 3, 7);
  writeData(sink, FrameType.STDIN_DATA, payload);
  t.equal(sink.batches.length, 3);
  const received: Buffer[] = [];
  const decoder = new FrameDecoder(
    {
      onValue: () => t.fail('value frame'),
      onString: () => t.fail('string frame'),
      onData: (type, chunk) => received.push(Buffer.from(chunk)),
      onDataEnd: () => t.fail('end'),
      onError: (message) => t.fail(message),
    },
    DEFAULT_LIMITS,
  );
  for (const batch of sink.batches) for (const piece of batch) decoder.push(piece);
  t.same(Buffer.concat(received), payload);
});

t.test('back-pressure: false once the sink is full', async (t) => {
  t.equal(writeData(recorder(false), FrameType.STDERR_DATA, Buffer.from('x')), false);
});
