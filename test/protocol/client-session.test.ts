import t from 'tap';
import {
  ClientSession,
  encodeRequest,
  encodeResize,
  encodeSignal,
  encodeTerminate,
} from '../../src/protocol/client-session.js';
import {
  ALL_FEATURES,
  DEFAULT_LIMITS,
  Feature,
  FrameType,
  type Limits,
} from '../../src/protocol/constants.js';
import { encodeHelloPayload } from '../../src/protocol/hello.js';
import { encodeExit, encodeHelloReply, encodeRefusal } from '../../src/protocol/server-frames.js';
import { bytewise, ClientRecorder, hex, randomChunks, stringFrame, valueFrame } from './fixtures/helpers.js';

function run(
  wire: Buffer | Buffer[],
  limits: Limits = DEFAULT_LIMITS,
): { session: ClientSession; recorder: ClientRecorder } {
  const recorder = new ClientRecorder();
  const session = new ClientSession(recorder, limits);
  for (const chunk of Array.isArray(wire) ? wire : [wire]) session.receive(chunk);
  return { session, recorder };
}

t.test('a legacy server session: output, ends, stdin closed, exit code', async (t) => {
  const wire = Buffer.concat([
    valueFrame(FrameType.STDIN_DATA, 0),
    stringFrame(FrameType.STDOUT_DATA, 'out1 '),
    stringFrame(FrameType.STDERR_DATA, 'err'),
    stringFrame(FrameType.STDOUT_DATA, 'out2'),
    valueFrame(FrameType.STDOUT_DATA, 0),
    valueFrame(FrameType.STDERR_DATA, 0),
    valueFrame(FrameType.EXIT_CODE, 3),
  ]);
  const expected = [
    ['stdinClosed'],
    ['stdout', Buffer.from('out1 ')],
    ['stderr', Buffer.from('err')],
    ['stdout', Buffer.from('out2')],
    ['stdoutEnd'],
    ['stderrEnd'],
    ['exit', 3, null],
  ];
  for (const chunks of [[wire], bytewise(wire), randomChunks(wire, 5), randomChunks(wire, 6, 3)]) {
    const { session, recorder } = run(chunks);
    t.same(recorder.normalized(), expected);
    t.ok(session.done);
    t.equal(session.received, wire.length);
    t.equal(session.serverVersion, 0, 'no HELLO: an old server');
  }
});

t.test('exit codes are signed 32-bit', async (t) => {
  for (const [value, code] of [
    [0, 0],
    [255, 255],
    [0xffffffff, -1],
    [0x80000000, -2147483648],
    [0x7fffffff, 2147483647],
  ] as const) {
    t.same(run(valueFrame(FrameType.EXIT_CODE, value)).recorder.events, [['exit', code, null]], `${value}`);
  }
  t.same(run(encodeExit(-5, null, false)).recorder.events, [['exit', -5, null]]);
});

t.test('HELLO, then EXIT_SIGNAL and EXIT_CODE', async (t) => {
  const { session, recorder } = run(
    Buffer.concat([encodeHelloReply(1, Feature.SIGNALS), encodeExit(null, 15, true)]),
  );
  t.same(recorder.events, [
    ['hello', 1, Feature.SIGNALS],
    ['exit', 128 + 15, 15],
  ]);
  t.equal(session.serverVersion, 1);
  t.equal(session.serverFeatures, Feature.SIGNALS);
  t.same(
    run(Buffer.concat([valueFrame(FrameType.EXIT_SIGNAL, 9), valueFrame(FrameType.EXIT_CODE, 137)])).recorder
      .events,
    [['exit', 137, 9]],
    'byte-built',
  );
});

t.test('ERROR message then exit', async (t) => {
  const { recorder } = run(
    Buffer.concat([encodeHelloReply(1, ALL_FEATURES), encodeRefusal('unknown command "nope"', 127, true)]),
  );
  t.same(recorder.events, [
    ['hello', 1, ALL_FEATURES],
    ['serverError', 'unknown command "nope"'],
    ['exit', 127, null],
  ]);
  // To an old client the same refusal is stderr text.
  t.same(run(encodeRefusal('no such directory', 1, false)).recorder.normalized(), [
    ['stderr', Buffer.from('k8psh: no such directory\n')],
    ['exit', 1, null],
  ]);
});

t.test('anything after EXIT_CODE is a protocol error', async (t) => {
  const exit = valueFrame(FrameType.EXIT_CODE, 0);
  for (const [name, after] of [
    ['stdout', stringFrame(FrameType.STDOUT_DATA, 'x')],
    ['stdout end', valueFrame(FrameType.STDOUT_DATA, 0)],
    ['exit code', exit],
    ['error', stringFrame(FrameType.ERROR, 'x')],
    ['garbage', Buffer.from([0xff])],
  ] as const) {
    // In the same chunk, in a later chunk, and byte by byte: always the same outcome.
    for (const chunks of [
      [Buffer.concat([exit, after])],
      [exit, after],
      bytewise(Buffer.concat([exit, after])),
    ]) {
      const { recorder, session } = run(chunks);
      t.same(
        recorder.events,
        [
          ['exit', 0, null],
          ['error', 'data after EXIT_CODE'],
        ],
        name,
      );
      t.ok(session.done);
    }
  }
  const { recorder, session } = run([exit, Buffer.alloc(0)]);
  t.same(recorder.events, [['exit', 0, null]], 'an empty read after the exit is not data');
  session.receive(Buffer.from('x'));
  session.receive(Buffer.from('y'));
  t.same(recorder.errors, ['data after EXIT_CODE'], 'reported once');
});

t.test('HELLO from the server', async (t) => {
  t.match(run(encodeHelloReply(2, 0)).recorder.events, [
    ['error', /the server speaks protocol version 2, this client 1 to 1/],
  ]);
  t.match(run(encodeHelloReply(0, 0)).recorder.events, [['error', /protocol version 0/]]);
  t.match(run(stringFrame(FrameType.HELLO, 'short')).recorder.events, [['error', /malformed HELLO/]]);
  const longer = Buffer.concat([encodeHelloPayload({ version: 1, features: 7 }), Buffer.from('more')]);
  t.same(run(stringFrame(FrameType.HELLO, longer)).recorder.events, [['hello', 1, 7]]);
});

t.test('frames a server never sends', async (t) => {
  for (const [wire, pattern] of [
    [stringFrame(FrameType.STDIN_DATA, 'x'), /STDIN_DATA with a payload from the server/],
    [stringFrame(FrameType.WORKING_DIRECTORY, ''), /unexpected WORKING_DIRECTORY from the server/],
    [stringFrame(FrameType.COMMAND_ARGUMENT, 'a'), /unexpected COMMAND_ARGUMENT from the server/],
    [stringFrame(FrameType.ENVIRONMENT_VARIABLE, 'a=b'), /unexpected ENVIRONMENT_VARIABLE from the server/],
    [stringFrame(FrameType.START_COMMAND, 'ls'), /unexpected START_COMMAND from the server/],
    [stringFrame(FrameType.TTY_REQUEST, Buffer.alloc(4)), /unexpected TTY_REQUEST from the server/],
    [valueFrame(FrameType.TERMINATE_COMMAND, 0), /unexpected TERMINATE_COMMAND from the server/],
    [valueFrame(FrameType.SIGNAL, 2), /unexpected SIGNAL from the server/],
    [valueFrame(FrameType.WINDOW_SIZE, 0), /unexpected WINDOW_SIZE from the server/],
    [valueFrame(0x50, 0), /unknown frame type 80/],
  ] as const) {
    const { recorder } = run([
      wire,
      stringFrame(FrameType.STDOUT_DATA, 'x'),
      valueFrame(FrameType.EXIT_CODE, 0),
    ]);
    t.equal(recorder.events.length, 1, 'nothing after the error');
    t.match(recorder.events[0], ['error', pattern]);
  }
});

t.test('output frames are capped by maxDataPayload, messages by maxFramePayload', async (t) => {
  const limits = { ...DEFAULT_LIMITS, maxFramePayload: 8, maxDataPayload: 16 };
  t.same(run(stringFrame(FrameType.STDOUT_DATA, Buffer.alloc(16, 'a')), limits).recorder.normalized(), [
    ['stdout', Buffer.alloc(16, 'a')],
  ]);
  t.match(run(stringFrame(FrameType.STDOUT_DATA, Buffer.alloc(17)), limits).recorder.events, [
    ['error', /data frame of 17 bytes/],
  ]);
  t.match(run(stringFrame(FrameType.ERROR, 'ninechars'), limits).recorder.events, [
    ['error', /frame of 9 bytes/],
  ]);
});

t.test('encodeRequest', async (t) => {
  const base = {
    workingDirectory: 'w',
    arguments: ['a1', 'a2'],
    environment: [
      ['E1', 'v1'],
      ['E2', 'v=2'],
    ] as [string, string][],
    command: 'cmd',
  };
  const order = (wire: Buffer): number[] => {
    const types: number[] = [];
    for (let offset = 0; offset < wire.length;) {
      types.push(wire[offset]!);
      offset += 5 + wire.readUInt32LE(offset + 1);
    }
    return types;
  };

  t.test('legacy: exactly the original client frames, in its order', async (t) => {
    const wire = encodeRequest({ ...base, hello: false, tty: { rows: 1, cols: 1, term: 'x' } });
    t.same(order(wire), [0, 2, 2, 1, 1, 3], 'WD, arguments, variables, START — no TTY_REQUEST without HELLO');
    t.same(
      wire,
      Buffer.concat([
        stringFrame(0, 'w'),
        stringFrame(2, 'a1'),
        stringFrame(2, 'a2'),
        stringFrame(1, 'E1=v1'),
        stringFrame(1, 'E2=v=2'),
        stringFrame(3, 'cmd'),
      ]),
    );
    t.ok(
      order(wire).every((type) => type <= FrameType.EXIT_CODE),
      'no frame type an old server does not know',
    );
  });

  t.test('HELLO first; TTY_REQUEST only when asked', async (t) => {
    const modern = encodeRequest({ ...base, hello: true });
    t.same(order(modern), [0x40, 0, 2, 2, 1, 1, 3]);
    t.equal(
      hex(modern.subarray(0, 15)),
      '40 0a 00 00 00 6b 38 70 32 01 00 07 00 00 00',
      'HELLO "k8p2" v1 features 7',
    );
    const tty = encodeRequest({
      ...base,
      hello: true,
      tty: { rows: 24, cols: 80, term: 'xterm' },
      features: Feature.TTY,
    });
    t.same(order(tty), [0x40, 0x44, 0, 2, 2, 1, 1, 3]);
    t.equal(hex(tty.subarray(0, 15)), '40 0a 00 00 00 6b 38 70 32 01 00 04 00 00 00', 'features as asked');
    t.equal(
      hex(tty.subarray(15, 15 + 14)),
      '44 09 00 00 00 18 00 50 00 78 74 65 72 6d',
      'rows 24, cols 80, "xterm"',
    );
    t.same(order(encodeRequest({ ...base, hello: true, tty: null })), [0x40, 0, 2, 2, 1, 1, 3]);
  });

  t.test('empty request', async (t) => {
    t.equal(
      hex(encodeRequest({ hello: false, workingDirectory: '', arguments: [], environment: [], command: '' })),
      '00 00 00 00 00 03 00 00 00 00',
    );
  });

  t.test('signal, terminate and resize frames', async (t) => {
    t.equal(hex(encodeSignal(2)), '42 02 00 00 00');
    t.equal(hex(encodeTerminate()), '07 00 00 00 00');
    t.equal(hex(encodeResize(50, 132)), '45 84 00 32 00', 'rows << 16 | cols');
    t.equal(hex(encodeResize(1e9, -3)), '45 00 00 ff ff', 'clamped to u16');
  });
});
