import assert from 'node:assert/strict';
import t from 'tap';
import fc from 'fast-check';
import { encodeHeader, encodeString, encodeValue, FrameDecoder } from '../../src/protocol/codec.js';
import { DEFAULT_LIMITS, FrameType, HEADER_SIZE } from '../../src/protocol/constants.js';
import { encodeRequest } from '../../src/protocol/client-session.js';
import {
  bytewise,
  FrameRecorder,
  fromHex,
  hex,
  largestAllocation,
  randomChunks,
  stringFrame,
  valueFrame,
  splitAt,
  type Event,
} from './fixtures/helpers.js';

const small = { maxFramePayload: 100, maxDataPayload: 1000 };

function decode(chunks: readonly Buffer[], limits = DEFAULT_LIMITS): FrameRecorder {
  const recorder = new FrameRecorder();
  const decoder = new FrameDecoder(recorder, limits);
  for (const chunk of chunks) decoder.push(chunk);
  return recorder;
}

t.test('encoder: exact bytes', async (t) => {
  t.equal(hex(encodeString(FrameType.WORKING_DIRECTORY, 'sub/dir')), '00 07 00 00 00 73 75 62 2f 64 69 72');
  t.equal(hex(encodeString(FrameType.START_COMMAND, '')), '03 00 00 00 00');
  t.equal(hex(encodeString(FrameType.STDOUT_DATA, Uint8Array.of(0, 255))), '05 02 00 00 00 00 ff');
  t.equal(hex(encodeString(FrameType.ENVIRONMENT_VARIABLE, 'É=€')), '01 06 00 00 00 c3 89 3d e2 82 ac');
  t.equal(hex(encodeValue(FrameType.TERMINATE_COMMAND, 0)), '07 00 00 00 00');
  t.equal(hex(encodeValue(FrameType.EXIT_CODE, 3)), '08 03 00 00 00');
  t.equal(hex(encodeValue(FrameType.EXIT_CODE, 0x12345678)), '08 78 56 34 12');
  t.equal(
    hex(encodeValue(FrameType.EXIT_CODE, -1)),
    '08 ff ff ff ff',
    'negative exit codes as two’s complement',
  );
  t.equal(hex(encodeValue(FrameType.EXIT_CODE, -2)), '08 fe ff ff ff');
  t.equal(hex(encodeValue(FrameType.WINDOW_SIZE, 0xffffffff)), '45 ff ff ff ff');
  t.equal(
    hex(encodeHeader(FrameType.STDIN_DATA, 65535)),
    '04 ff ff 00 00',
    'header only, payload written after',
  );
  t.equal(encodeHeader(FrameType.STDIN_DATA, 7).length, HEADER_SIZE);
  // The encoder agrees with the byte-by-byte builders for every type.
  for (const type of [0, 1, 2, 3, 4, 5, 6, 0x40, 0x41, 0x44])
    t.same(encodeString(type, 'abc'), stringFrame(type, 'abc'), `string frame ${type}`);
  for (const type of [7, 8, 0x42, 0x43, 0x45])
    t.same(encodeValue(type, 0xdeadbeef), valueFrame(type, 0xdeadbeef), `value frame ${type}`);
});

/** A whole session as the original k8psh 1.x client writes it: `ls -la 'x y'` with HOME forwarded, in sub/dir. */
const legacyClientHex = [
  '00 07 00 00 00 73 75 62 2f 64 69 72', // WORKING_DIRECTORY "sub/dir"
  '02 03 00 00 00 2d 6c 61', // COMMAND_ARGUMENT "-la"
  '02 03 00 00 00 78 20 79', // COMMAND_ARGUMENT "x y"
  '01 0a 00 00 00 48 4f 4d 45 3d 2f 72 6f 6f 74', // ENVIRONMENT_VARIABLE "HOME=/root"
  '03 02 00 00 00 6c 73', // START_COMMAND "ls"
  '04 03 00 00 00 68 69 0a', // STDIN_DATA "hi\n"
  '04 00 00 00 00', // STDIN_DATA end
].join(' ');

t.test('a legacy session, byte for byte', async (t) => {
  const request = encodeRequest({
    hello: false,
    workingDirectory: 'sub/dir',
    arguments: ['-la', 'x y'],
    environment: [['HOME', '/root']],
    command: 'ls',
  });
  const wire = Buffer.concat([
    request,
    encodeString(FrameType.STDIN_DATA, 'hi\n'),
    encodeValue(FrameType.STDIN_DATA, 0),
  ]);
  t.equal(hex(wire), legacyClientHex);

  const expected: Event[] = [
    ['string', FrameType.WORKING_DIRECTORY, Buffer.from('sub/dir').toString('hex')],
    ['string', FrameType.COMMAND_ARGUMENT, Buffer.from('-la').toString('hex')],
    ['string', FrameType.COMMAND_ARGUMENT, Buffer.from('x y').toString('hex')],
    ['string', FrameType.ENVIRONMENT_VARIABLE, Buffer.from('HOME=/root').toString('hex')],
    ['string', FrameType.START_COMMAND, Buffer.from('ls').toString('hex')],
    ['data4', Buffer.from('hi\n')],
    ['end', FrameType.STDIN_DATA],
  ];
  t.same(decode([fromHex(legacyClientHex)]).normalized(), expected, 'in one chunk');
  t.same(decode(bytewise(fromHex(legacyClientHex))).normalized(), expected, 'one byte at a time');
  for (let seed = 1; seed <= 50; seed++)
    t.same(decode(randomChunks(fromHex(legacyClientHex), seed)).normalized(), expected, `chunking #${seed}`);

  // The server's side of the same session: stdin closed, output, exit code 0.
  const serverHex = [
    '04 00 00 00 00', // STDIN_DATA(0): the process closed its stdin
    '05 05 00 00 00 61 20 62 0a 0a', // STDOUT_DATA "a b\n\n"
    '06 04 00 00 00 77 61 72 6e', // STDERR_DATA "warn"
    '05 00 00 00 00', // STDOUT closed
    '06 00 00 00 00', // STDERR closed
    '08 00 00 00 00', // EXIT_CODE 0
  ].join(' ');
  t.same(decode(bytewise(fromHex(serverHex))).normalized(), [
    ['end', FrameType.STDIN_DATA],
    ['data5', Buffer.from('a b\n\n')],
    ['data6', Buffer.from('warn')],
    ['end', FrameType.STDOUT_DATA],
    ['end', FrameType.STDERR_DATA],
    ['value', FrameType.EXIT_CODE, 0],
  ]);
});

t.test('every frame type decodes', async (t) => {
  const payload = Buffer.from([1, 2, 3, 0, 0xff]);
  for (const type of [
    FrameType.WORKING_DIRECTORY,
    FrameType.ENVIRONMENT_VARIABLE,
    FrameType.COMMAND_ARGUMENT,
    FrameType.START_COMMAND,
    FrameType.HELLO,
    FrameType.ERROR,
    FrameType.TTY_REQUEST,
  ]) {
    t.same(
      decode([stringFrame(type, payload)]).events,
      [['string', type, payload.toString('hex')]],
      `${type}`,
    );
    t.same(decode([stringFrame(type, '')]).events, [['string', type, '']], `empty ${type}`);
  }
  for (const type of [FrameType.STDIN_DATA, FrameType.STDOUT_DATA, FrameType.STDERR_DATA]) {
    t.same(decode([stringFrame(type, payload)]).normalized(), [[`data${type}`, payload]], `data ${type}`);
    t.same(decode([valueFrame(type, 0)]).events, [['end', type]], `end ${type}`);
  }
  for (const type of [
    FrameType.TERMINATE_COMMAND,
    FrameType.EXIT_CODE,
    FrameType.SIGNAL,
    FrameType.EXIT_SIGNAL,
    FrameType.WINDOW_SIZE,
  ]) {
    t.same(decode([valueFrame(type, 0xfffffffe)]).events, [['value', type, 0xfffffffe]], `value ${type}`);
    // A value frame's value is not a length: nothing is read after the header.
    t.same(
      decode([valueFrame(type, 3), valueFrame(FrameType.EXIT_CODE, 1)]).events,
      [
        ['value', type, 3],
        ['value', FrameType.EXIT_CODE, 1],
      ],
      `value ${type} is header only`,
    );
  }
});

t.test('data frames stream through in pieces', async (t) => {
  const recorder = new FrameRecorder();
  const decoder = new FrameDecoder(recorder, DEFAULT_LIMITS);
  const payload = Buffer.alloc(10000, 'x');
  const wire = stringFrame(FrameType.STDOUT_DATA, payload);
  decoder.push(wire.subarray(0, HEADER_SIZE + 10));
  t.same(recorder.pieces, [10], 'the first bytes are delivered before the frame is complete');
  t.equal(decoder.bufferedBytes, 0, 'nothing collected for data');
  t.notOk(decoder.idle, 'mid-frame');
  decoder.push(wire.subarray(HEADER_SIZE + 10, 5000));
  decoder.push(wire.subarray(5000));
  t.same(recorder.pieces, [10, 5000 - HEADER_SIZE - 10, wire.length - 5000]);
  t.ok(decoder.idle, 'between frames');
  t.same(recorder.normalized(), [['data5', payload]], 'pieces concatenate to the payload');

  const chunked = decode(randomChunks(wire, 7, 300));
  t.ok(chunked.pieces.length > 1);
  t.ok(
    chunked.pieces.every((n) => n > 0),
    'no empty pieces',
  );
  t.same(chunked.normalized(), [['data5', payload]]);
});

t.test('pieces are views of the input, not copies', async (t) => {
  const seen: Buffer[] = [];
  const input = stringFrame(FrameType.STDERR_DATA, 'hello');
  const decoder = new FrameDecoder(
    {
      onValue: () => t.fail('value'),
      onString: () => t.fail('string'),
      onData: (_type, chunk) => seen.push(chunk),
      onDataEnd: () => t.fail('end'),
      onError: (m) => t.fail(m),
    },
    DEFAULT_LIMITS,
  );
  decoder.push(input);
  t.equal(seen.length, 1);
  t.equal(seen[0]!.buffer, input.buffer, 'same memory');
});

t.test('zero-length frames', async (t) => {
  for (const type of [FrameType.STDIN_DATA, FrameType.STDOUT_DATA, FrameType.STDERR_DATA])
    t.same(decode([valueFrame(type, 0)]).events, [['end', type]]);
  t.same(decode([valueFrame(FrameType.WORKING_DIRECTORY, 0)]).events, [['string', 0, '']]);
});

t.test('control frames are capped', async (t) => {
  t.test('at the limit is fine, one more is not', async (t) => {
    t.same(
      decode([stringFrame(FrameType.COMMAND_ARGUMENT, Buffer.alloc(100, 'a'))], {
        ...DEFAULT_LIMITS,
        ...small,
      }).events,
      [['string', 2, Buffer.alloc(100, 'a').toString('hex')]],
    );
    const over = decode([stringFrame(FrameType.COMMAND_ARGUMENT, Buffer.alloc(101, 'a'))], {
      ...DEFAULT_LIMITS,
      ...small,
    });
    t.equal(over.events.length, 1);
    t.match(over.events[0], ['error', /frame of 101 bytes exceeds the limit of 100/]);
  });

  t.test('a huge announced length fails right after the header, nothing allocated', async (t) => {
    for (const type of [
      FrameType.WORKING_DIRECTORY,
      FrameType.ENVIRONMENT_VARIABLE,
      FrameType.COMMAND_ARGUMENT,
      FrameType.START_COMMAND,
      FrameType.HELLO,
      FrameType.ERROR,
      FrameType.TTY_REQUEST,
    ]) {
      const recorder = new FrameRecorder();
      const decoder = new FrameDecoder(recorder, DEFAULT_LIMITS);
      const largest = largestAllocation(() => {
        decoder.push(valueFrame(type, 0xfffffff0).subarray(0, 4));
        t.same(recorder.events, [], 'no decision before the header is complete');
        decoder.push(valueFrame(type, 0xfffffff0).subarray(4));
      });
      t.match(
        recorder.events,
        [['error', /frame of 4294967280 bytes exceeds the limit of 1048576/]],
        `type ${type}`,
      );
      t.ok(decoder.broken);
      t.equal(decoder.bufferedBytes, 0);
      t.equal(largest, 0, 'no allocation at all');
      decoder.push(Buffer.alloc(1000, 'z'));
      t.equal(recorder.events.length, 1, 'the bytes behind are ignored');
    }
  });

  t.test('a huge data frame is refused too', async (t) => {
    const recorder = decode([valueFrame(FrameType.STDIN_DATA, 0xfffffff0), Buffer.from('abc')]);
    t.match(recorder.events, [['error', /data frame of 4294967280 bytes exceeds the limit of 16777216/]]);
    const limited = decode([stringFrame(FrameType.STDOUT_DATA, Buffer.alloc(1001))], {
      ...DEFAULT_LIMITS,
      ...small,
    });
    t.match(limited.events, [['error', /data frame of 1001 bytes exceeds the limit of 1000/]]);
  });

  t.test('memory grows with what arrives, not with what was announced', async (t) => {
    const announced = DEFAULT_LIMITS.maxFramePayload; // allowed: 1 MiB
    const recorder = new FrameRecorder();
    const decoder = new FrameDecoder(recorder, DEFAULT_LIMITS);
    let largest = largestAllocation(() =>
      decoder.push(Buffer.concat([valueFrame(0, announced), Buffer.alloc(10)])),
    );
    t.ok(decoder.bufferedBytes <= 64 * 1024, `buffered ${decoder.bufferedBytes} after 10 bytes`);
    t.ok(largest <= 64 * 1024, `allocated ${largest} after 10 bytes`);
    const rest = Buffer.alloc(announced - 10, 'q');
    let fed = 10;
    let peak = 0;
    while (fed < announced) {
      const piece = rest.subarray(fed - 10, fed - 10 + 100_000);
      largest = Math.max(
        largest,
        largestAllocation(() => decoder.push(piece)),
      );
      fed += piece.length;
      if (fed < announced)
        t.ok(decoder.bufferedBytes <= Math.max(64 * 1024, 2 * fed), `buffered after ${fed}`);
      peak = Math.max(peak, decoder.bufferedBytes);
    }
    t.ok(peak <= announced, 'never more than the frame');
    t.ok(largest <= announced, 'no allocation over the frame size');
    t.ok(decoder.bufferedBytes <= announced, 'once delivered, at most the spare of one frame is kept');
    decoder.release();
    t.equal(decoder.bufferedBytes, 0, 'released');
    t.equal(recorder.events.length, 1);
    t.equal((recorder.events[0]![2] as string).length, announced * 2);
  });
});

t.test('unknown frame types are errors', async (t) => {
  for (const type of [9, 10, 0x3f, 0x46, 0x80, 0xff]) {
    const recorder = decode([valueFrame(type, 0)]);
    t.same(recorder.events, [['error', `unknown frame type ${type}`]]);
  }
});

t.test('nothing is delivered after an error', async (t) => {
  const wire = Buffer.concat([
    stringFrame(FrameType.WORKING_DIRECTORY, 'a'),
    valueFrame(9, 0),
    stringFrame(FrameType.START_COMMAND, 'b'),
    valueFrame(FrameType.STDIN_DATA, 0),
  ]);
  const expected = [
    ['string', 0, '61'],
    ['error', 'unknown frame type 9'],
  ];
  t.same(decode([wire]).events, expected, 'same chunk');
  t.same(decode(bytewise(wire)).events, expected, 'byte by byte');

  const recorder = new FrameRecorder();
  const decoder = new FrameDecoder(recorder, DEFAULT_LIMITS);
  decoder.push(stringFrame(FrameType.STDOUT_DATA, 'abc').subarray(0, 6));
  decoder.fail('stop');
  decoder.fail('twice');
  decoder.push(Buffer.from('bc'));
  decoder.push(valueFrame(FrameType.EXIT_CODE, 0));
  t.same(recorder.normalized(), [
    ['data5', Buffer.from('a')],
    ['error', 'stop'],
  ]);
  t.ok(decoder.broken);
});

t.test('a handler may stop the decoder mid-chunk', async (t) => {
  const events: string[] = [];
  const decoder: FrameDecoder = new FrameDecoder(
    {
      onValue: (type) => {
        events.push(`value ${type}`);
        decoder.fail('enough');
      },
      onString: () => events.push('string'),
      onData: () => events.push('data'),
      onDataEnd: () => events.push('end'),
      onError: (m) => events.push(`error ${m}`),
    },
    DEFAULT_LIMITS,
  );
  decoder.push(Buffer.concat([valueFrame(FrameType.EXIT_CODE, 0), stringFrame(FrameType.STDOUT_DATA, 'x')]));
  t.same(events, ['value 8', 'error enough']);
});

t.test('decoding does not depend on the chunking (fast-check)', async (t) => {
  const frames = fc.array(
    fc.oneof(
      fc
        .tuple(fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 0x40, 0x41, 0x44), fc.uint8Array({ maxLength: 40 }))
        .map(([type, p]) => stringFrame(type, p)),
      fc.tuple(fc.constantFrom(7, 8, 0x42, 0x43, 0x45), fc.nat()).map(([type, v]) => valueFrame(type, v)),
      fc.constantFrom(4, 5, 6).map((type) => valueFrame(type, 0)),
    ),
    { maxLength: 12 },
  );
  fc.assert(
    fc.property(frames, fc.array(fc.nat(), { maxLength: 30 }), (list, cuts) => {
      const wire = Buffer.concat(list);
      const whole = decode([wire]).normalized();
      assert.deepStrictEqual(decode(splitAt(wire, cuts)).normalized(), whole);
      assert.deepStrictEqual(decode(bytewise(wire)).normalized(), whole);
      return !whole.some((e) => e[0] === 'error');
    }),
    { numRuns: 200 },
  );
  t.pass('200 frame sequences, each whole, split and byte by byte');
});

t.test('control frames: no copy when whole in one chunk, one buffer reused across frames', async (t) => {
  t.test('a frame whole in the chunk is delivered as a view of it, nothing allocated', async (t) => {
    const seen: Buffer[] = [];
    const input = Buffer.concat([
      stringFrame(FrameType.COMMAND_ARGUMENT, 'abc'),
      stringFrame(FrameType.START_COMMAND, 'x'),
    ]);
    const decoder = new FrameDecoder(
      {
        onValue: () => t.fail('value'),
        onString: (_type, payload) => void seen.push(payload),
        onData: () => t.fail('data'),
        onDataEnd: () => t.fail('end'),
        onError: (m) => void t.fail(m),
      },
      DEFAULT_LIMITS,
    );
    const largest = largestAllocation(() => decoder.push(input));
    t.equal(largest, 0, 'no allocation');
    t.same(
      seen.map((b) => b.toString()),
      ['abc', 'x'],
    );
    t.equal(seen[0]!.buffer, input.buffer, 'same memory');
  });

  t.test('frames split across chunks share one buffer; release() drops it', async (t) => {
    const megabyte = Buffer.alloc(DEFAULT_LIMITS.maxFramePayload, 'm');
    const recorder = new FrameRecorder();
    const decoder = new FrameDecoder(recorder, DEFAULT_LIMITS);
    const feed = (wire: Buffer) => {
      for (let at = 0; at < wire.length; at += 64 * 1024) decoder.push(wire.subarray(at, at + 64 * 1024));
    };
    feed(stringFrame(FrameType.COMMAND_ARGUMENT, megabyte));
    t.equal(decoder.bufferedBytes, megabyte.length, 'the first frame’s buffer is kept');
    const again = largestAllocation(() => {
      for (let i = 0; i < 3; i++) feed(stringFrame(FrameType.COMMAND_ARGUMENT, megabyte));
    });
    t.equal(again, 0, 'the next frames of that size allocate nothing');
    t.equal(decoder.bufferedBytes, megabyte.length, 'one buffer held, not one per frame');
    t.equal(recorder.events.length, 4);
    t.ok(
      recorder.events.every((e) => e[0] === 'string' && e[2] === megabyte.toString('hex')),
      'every payload whole and right',
    );
    decoder.release();
    t.equal(decoder.bufferedBytes, 0);
  });

  t.test('a failed stream keeps nothing', async (t) => {
    const recorder = new FrameRecorder();
    const decoder = new FrameDecoder(recorder, small);
    const wire = stringFrame(FrameType.COMMAND_ARGUMENT, Buffer.alloc(100, 'a'));
    decoder.push(wire.subarray(0, 50));
    decoder.push(wire.subarray(50));
    t.ok(decoder.bufferedBytes > 0);
    decoder.push(valueFrame(0xff, 0));
    t.ok(decoder.broken);
    t.equal(decoder.bufferedBytes, 0);
  });

  t.test('stopped (a refused peer): nothing kept, nothing more decoded, no error', async (t) => {
    const recorder = new FrameRecorder();
    const decoder = new FrameDecoder(recorder, DEFAULT_LIMITS);
    const wire = stringFrame(FrameType.COMMAND_ARGUMENT, Buffer.alloc(200_000, 'a'));
    decoder.push(wire.subarray(0, 100_000));
    t.ok(decoder.bufferedBytes > 0, 'half a frame gathered');
    decoder.stop();
    t.equal(decoder.bufferedBytes, 0);
    decoder.push(Buffer.concat([wire.subarray(100_000), valueFrame(0xff, 0)]));
    t.same(recorder.events, []);
  });
});
