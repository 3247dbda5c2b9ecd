import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import t, { type Test } from 'tap';
import { ServerSession } from '../../src/protocol/server-session.js';
import { frameName } from '../../src/protocol/constants.js';
import { printable } from '../../src/protocol/printable.js';
import {
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
import { encodeTtyPayload } from '../../src/protocol/tty.js';
import {
  bytewise,
  randomChunks,
  stringFrame,
  valueFrame,
  ServerRecorder,
  type RecordedRequest,
} from './fixtures/helpers.js';

function run(
  wire: Buffer | Buffer[],
  limits: Limits = DEFAULT_LIMITS,
): { session: ServerSession; recorder: ServerRecorder } {
  const recorder = new ServerRecorder();
  const session = new ServerSession(recorder, limits);
  for (const chunk of Array.isArray(wire) ? wire : [wire]) session.receive(chunk);
  return { session, recorder };
}

const hello = (version = 1, features = ALL_FEATURES): Buffer =>
  stringFrame(FrameType.HELLO, encodeHelloPayload({ version, features }));

/** Exactly what the original client sends: WD, arguments, variables, START. */
const legacyRequest = Buffer.concat([
  stringFrame(FrameType.WORKING_DIRECTORY, 'sub/dir'),
  stringFrame(FrameType.COMMAND_ARGUMENT, '-la'),
  stringFrame(FrameType.COMMAND_ARGUMENT, ''),
  stringFrame(FrameType.ENVIRONMENT_VARIABLE, 'HOME=/root'),
  stringFrame(FrameType.ENVIRONMENT_VARIABLE, 'EMPTY='),
  stringFrame(FrameType.ENVIRONMENT_VARIABLE, 'EQ=a=b'),
  stringFrame(FrameType.START_COMMAND, 'ls'),
]);
const legacyExpected: RecordedRequest = {
  workingDirectory: 'sub/dir',
  environment: [
    ['HOME', '/root'],
    ['EMPTY', ''],
    ['EQ', 'a=b'],
  ],
  arguments: ['-la', ''],
  command: 'ls',
  tty: null,
};

function onlyError(t: Test, recorder: ServerRecorder, pattern: RegExp, before: unknown[] = []): void {
  t.same(recorder.events.slice(0, -1), before, 'the events before the error');
  t.match(recorder.events.at(-1), ['error', pattern]);
}

t.test('a legacy request, then stdin, stdin end and terminate', async (t) => {
  const wire = Buffer.concat([
    legacyRequest,
    stringFrame(FrameType.STDIN_DATA, 'hello '),
    stringFrame(FrameType.STDIN_DATA, 'world'),
    valueFrame(FrameType.STDIN_DATA, 0),
    stringFrame(FrameType.STDIN_DATA, 'late'), // racing stdin after its end: dropped, harmless
    valueFrame(FrameType.TERMINATE_COMMAND, 0),
  ]);
  const expected = [
    ['start', legacyExpected],
    ['stdin', Buffer.from('hello world')],
    ['stdinEnd'],
    ['terminate'],
  ];
  for (const chunks of [[wire], bytewise(wire), randomChunks(wire, 3), randomChunks(wire, 99, 40)]) {
    const { session, recorder } = run(chunks);
    t.same(recorder.normalized(), expected);
    t.notOk(session.modern, 'an old client');
    t.equal(session.version, 0);
    t.ok(session.started);
  }
  // And byte by byte, onStart comes exactly when the last byte of START_COMMAND arrives.
  const recorder = new ServerRecorder();
  const session = new ServerSession(recorder);
  session.receive(legacyRequest.subarray(0, -1));
  t.same(recorder.events, []);
  t.notOk(session.started);
  session.receive(legacyRequest.subarray(-1));
  t.equal(recorder.events.length, 1);
  t.ok(session.started);
});

t.test('encodeRequest output is understood (legacy and modern)', async (t) => {
  const legacy = run(
    encodeRequest({
      hello: false,
      workingDirectory: 'sub/dir',
      arguments: ['-la', ''],
      environment: [
        ['HOME', '/root'],
        ['EMPTY', ''],
        ['EQ', 'a=b'],
      ],
      command: 'ls',
    }),
  );
  t.same(legacy.recorder.events, [['start', legacyExpected]]);

  const modern = run(
    encodeRequest({
      hello: true,
      features: Feature.ERRORS | Feature.TTY,
      tty: { rows: 50, cols: 132, term: 'xterm-256color' },
      workingDirectory: '',
      arguments: [],
      environment: [],
      command: 'bash',
    }),
  );
  t.same(modern.recorder.events, [
    ['hello', 1, Feature.ERRORS | Feature.TTY],
    [
      'start',
      {
        workingDirectory: '',
        environment: [],
        arguments: [],
        command: 'bash',
        tty: { rows: 50, cols: 132, term: 'xterm-256color' },
      },
    ],
  ]);
  t.ok(modern.session.modern);
  t.equal(modern.session.features, Feature.ERRORS | Feature.TTY);
});

t.test('the last value of a variable wins', async (t) => {
  const { recorder } = run(
    Buffer.concat([
      stringFrame(FrameType.WORKING_DIRECTORY, ''),
      stringFrame(FrameType.ENVIRONMENT_VARIABLE, 'A=1'),
      stringFrame(FrameType.ENVIRONMENT_VARIABLE, 'B=2'),
      stringFrame(FrameType.ENVIRONMENT_VARIABLE, 'A=3'),
      stringFrame(FrameType.START_COMMAND, 'x'),
    ]),
  );
  t.same((recorder.events[0]![1] as RecordedRequest).environment, [
    ['A', '3'],
    ['B', '2'],
  ]);
});

t.test('a request without WORKING_DIRECTORY runs in the base directory', async (t) => {
  const { recorder } = run(stringFrame(FrameType.START_COMMAND, 'x'));
  t.same(recorder.events, [
    ['start', { workingDirectory: '', environment: [], arguments: [], command: 'x', tty: null }],
  ]);
});

t.test('HELLO', async (t) => {
  t.test('first: negotiated version and features', async (t) => {
    const { session, recorder } = run(
      Buffer.concat([hello(1, 5), stringFrame(FrameType.START_COMMAND, 'x')]),
    );
    t.same(recorder.events[0], ['hello', 1, 5]);
    t.equal(session.version, 1);
    t.equal(session.features, 5);
    t.ok(session.modern);
  });

  t.test('a newer client gets our version', async (t) => {
    const { session, recorder } = run(hello(0xffff, 0xffffffff));
    t.same(recorder.events, [['hello', 1, 0xffffffff]]);
    t.equal(session.version, 1);
  });

  t.test('version 0 is refused, as a modern client so it can get an ERROR frame', async (t) => {
    const { session, recorder } = run(Buffer.concat([hello(0), stringFrame(FrameType.START_COMMAND, 'x')]));
    onlyError(t, recorder, /protocol version 0 is too old/);
    t.ok(session.modern);
    t.notOk(session.started);
  });

  t.test('not first', async (t) => {
    const { session, recorder } = run(Buffer.concat([stringFrame(FrameType.WORKING_DIRECTORY, ''), hello()]));
    onlyError(t, recorder, /HELLO must be the first frame/);
    t.notOk(session.modern);
  });

  t.test('twice', async (t) => {
    const { recorder } = run(Buffer.concat([hello(), hello()]));
    onlyError(t, recorder, /HELLO must be the first frame/, [['hello', 1, ALL_FEATURES]]);
  });

  t.test('after a TTY_REQUEST', async (t) => {
    const { recorder } = run(
      Buffer.concat([
        stringFrame(FrameType.TTY_REQUEST, encodeTtyPayload({ rows: 1, cols: 1, term: '' })),
        hello(),
      ]),
    );
    onlyError(t, recorder, /HELLO must be the first frame/);
  });

  t.test('malformed: short, or a wrong magic', async (t) => {
    onlyError(t, run(stringFrame(FrameType.HELLO, Buffer.alloc(9))).recorder, /malformed HELLO/);
    const wrongMagic = encodeHelloPayload({ version: 1, features: 0 });
    wrongMagic[0] = 0x6a; // "j8p2"
    onlyError(t, run(stringFrame(FrameType.HELLO, wrongMagic)).recorder, /malformed HELLO/);
    onlyError(t, run(stringFrame(FrameType.HELLO, '')).recorder, /malformed HELLO/);
  });

  t.test('longer payloads are accepted (room for later fields)', async (t) => {
    const payload = Buffer.concat([encodeHelloPayload({ version: 1, features: 1 }), Buffer.from('future')]);
    t.same(run(stringFrame(FrameType.HELLO, payload)).recorder.events, [['hello', 1, 1]]);
  });
});

t.test('frames out of order', async (t) => {
  const start = stringFrame(FrameType.START_COMMAND, 'x');
  const wd = stringFrame(FrameType.WORKING_DIRECTORY, 'd');
  const started = [
    ['start', { workingDirectory: 'd', environment: [], arguments: [], command: 'x', tty: null }],
  ];
  const startedNoWd = [
    ['start', { workingDirectory: '', environment: [], arguments: [], command: 'x', tty: null }],
  ];
  const cases: [string, Buffer, RegExp, unknown[]][] = [
    [
      'STDIN_DATA before START',
      Buffer.concat([wd, stringFrame(FrameType.STDIN_DATA, 'a')]),
      /STDIN_DATA before START_COMMAND/,
      [],
    ],
    [
      'stdin end before START',
      Buffer.concat([wd, valueFrame(FrameType.STDIN_DATA, 0)]),
      /STDIN_DATA before START_COMMAND/,
      [],
    ],
    ['START twice', Buffer.concat([wd, start, start]), /START_COMMAND after START_COMMAND/, started],
    ['a second WORKING_DIRECTORY', Buffer.concat([wd, wd]), /a second WORKING_DIRECTORY/, []],
    [
      'an argument after START',
      Buffer.concat([wd, start, stringFrame(FrameType.COMMAND_ARGUMENT, 'a')]),
      /COMMAND_ARGUMENT after START_COMMAND/,
      started,
    ],
    [
      'a variable after START',
      Buffer.concat([wd, start, stringFrame(FrameType.ENVIRONMENT_VARIABLE, 'A=1')]),
      /ENVIRONMENT_VARIABLE after START_COMMAND/,
      started,
    ],
    ['WD after START', Buffer.concat([wd, start, wd]), /WORKING_DIRECTORY after START_COMMAND/, started],
    ['HELLO after START', Buffer.concat([start, hello()]), /HELLO after START_COMMAND/, startedNoWd],
    [
      'TTY_REQUEST after START',
      Buffer.concat([
        wd,
        start,
        stringFrame(FrameType.TTY_REQUEST, encodeTtyPayload({ rows: 1, cols: 1, term: '' })),
      ]),
      /TTY_REQUEST after START_COMMAND/,
      started,
    ],
    [
      'TERMINATE before START',
      Buffer.concat([wd, valueFrame(FrameType.TERMINATE_COMMAND, 0)]),
      /TERMINATE_COMMAND before START_COMMAND/,
      [],
    ],
    ['SIGNAL before START', Buffer.concat([wd, encodeSignal(2)]), /SIGNAL before START_COMMAND/, []],
    [
      'WINDOW_SIZE before START',
      Buffer.concat([wd, encodeResize(1, 1)]),
      /WINDOW_SIZE before START_COMMAND/,
      [],
    ],
    ['EXIT_CODE from a client', valueFrame(FrameType.EXIT_CODE, 0), /unexpected EXIT_CODE from a client/, []],
    [
      'EXIT_CODE from a client, after START',
      Buffer.concat([wd, start, valueFrame(FrameType.EXIT_CODE, 0)]),
      /unexpected EXIT_CODE from a client/,
      started,
    ],
    [
      'EXIT_SIGNAL from a client',
      Buffer.concat([wd, start, valueFrame(FrameType.EXIT_SIGNAL, 9)]),
      /unexpected EXIT_SIGNAL from a client/,
      started,
    ],
    ['ERROR from a client', stringFrame(FrameType.ERROR, 'no'), /unexpected ERROR from a client/, []],
    [
      'ERROR from a client, after START',
      Buffer.concat([start, stringFrame(FrameType.ERROR, 'no')]),
      /unexpected ERROR from a client/,
      startedNoWd,
    ],
    [
      'STDOUT_DATA from a client',
      Buffer.concat([wd, start, stringFrame(FrameType.STDOUT_DATA, 'a')]),
      /unexpected STDOUT_DATA from a client/,
      started,
    ],
    [
      'STDERR end from a client',
      Buffer.concat([wd, start, valueFrame(FrameType.STDERR_DATA, 0)]),
      /unexpected STDERR_DATA from a client/,
      started,
    ],
    ['an unknown frame type', Buffer.concat([wd, valueFrame(0x20, 0)]), /unknown frame type 32/, []],
  ];
  for (const [name, wire, pattern, before] of cases) {
    for (const chunks of [[wire], bytewise(wire)]) {
      const { recorder, session } = run([...chunks, stringFrame(FrameType.STDIN_DATA, 'more'), start]);
      t.same(recorder.events.slice(0, -1), before, `${name}: events before the error`);
      t.match(recorder.events.at(-1), ['error', pattern], name);
      t.equal(recorder.errors.length, 1, `${name}: one error, nothing after it`);
      t.notOk(session.started && before.length === 0, `${name}: not started`);
    }
  }
});

t.test('limits', async (t) => {
  const limits: Limits = {
    maxFramePayload: 64,
    maxDataPayload: 128,
    maxArguments: 3,
    maxArgumentBytes: 10,
    maxEnvironmentVariables: 2,
    maxEnvironmentBytes: 12,
  };
  const start = stringFrame(FrameType.START_COMMAND, 'x');
  const args = (...list: string[]): Buffer =>
    Buffer.concat(list.map((a) => stringFrame(FrameType.COMMAND_ARGUMENT, a)));
  const vars = (...list: string[]): Buffer =>
    Buffer.concat(list.map((a) => stringFrame(FrameType.ENVIRONMENT_VARIABLE, a)));

  t.equal(
    run(Buffer.concat([args('a', 'b', 'c'), start]), limits).recorder.events[0]![0],
    'start',
    '3 arguments',
  );
  onlyError(
    t,
    run(Buffer.concat([args('a', 'b', 'c', 'd'), start]), limits).recorder,
    /too many arguments \(the limit is 3\)/,
  );
  t.equal(
    run(Buffer.concat([args('12345', '12345'), start]), limits).recorder.events[0]![0],
    'start',
    '10 bytes',
  );
  onlyError(
    t,
    run(Buffer.concat([args('12345', '123456'), start]), limits).recorder,
    /arguments exceed 10 bytes/,
  );

  t.equal(
    run(Buffer.concat([vars('A=1', 'B=2', 'A=3'), start]), limits).recorder.events[0]![0],
    'start',
    'a repeated name counts once',
  );
  onlyError(
    t,
    run(Buffer.concat([vars('A=1', 'B=2', 'C=3'), start]), limits).recorder,
    /too many environment variables \(the limit is 2\)/,
  );
  // The names are looked at only from the cap's count of frames on: those before it count too.
  t.equal(
    run(Buffer.concat([vars('A=1', 'A=2', 'B=3'), start]), limits).recorder.events[0]![0],
    'start',
    'a name repeated before the cap counts once',
  );
  onlyError(
    t,
    run(Buffer.concat([vars('A=1', 'A=2', 'B=3', 'A=4', 'C=5'), start]), limits).recorder,
    /too many environment variables \(the limit is 2\)/,
  );
  t.equal(
    run(Buffer.concat([vars('A=12', 'B=123456'), start]), limits).recorder.events[0]![0],
    'start',
    '12 bytes',
  );
  onlyError(
    t,
    run(Buffer.concat([vars('A=12', 'B=1234567'), start]), limits).recorder,
    /environment exceeds 12 bytes/,
  );
  // Replacing a value still counts its bytes: a client cannot stream unbounded variables.
  onlyError(
    t,
    run(Buffer.concat([vars('A=1234', 'A=1234', 'A=1234'), start]), limits).recorder,
    /environment exceeds 12 bytes/,
  );

  onlyError(
    t,
    run(stringFrame(FrameType.WORKING_DIRECTORY, Buffer.alloc(65, 'a')), limits).recorder,
    /frame of 65 bytes exceeds the limit of 64/,
  );
  onlyError(
    t,
    run(Buffer.concat([start, stringFrame(FrameType.STDIN_DATA, Buffer.alloc(129))]), limits).recorder,
    /data frame of 129 bytes exceeds the limit of 128/,
    [['start', { workingDirectory: '', environment: [], arguments: [], command: 'x', tty: null }]],
  );
  // The defaults are what docs/protocol.md says.
  t.same(DEFAULT_LIMITS, {
    maxFramePayload: 1 << 20,
    maxDataPayload: 16 << 20,
    maxArguments: 65536,
    maxArgumentBytes: 6 << 20,
    maxEnvironmentVariables: 4096,
    maxEnvironmentBytes: 4 << 20,
  });
});

t.test('malformed environment variables', async (t) => {
  for (const text of ['NOEQUALS', '=value', '', 'bad\u0001name']) {
    const { recorder } = run(stringFrame(FrameType.ENVIRONMENT_VARIABLE, text));
    onlyError(t, recorder, /malformed environment variable/);
    t.notOk(
      [...recorder.errors[0]!].some((c) => c.charCodeAt(0) < 0x20),
      'no control characters in the message',
    );
  }
  t.match(
    run(stringFrame(FrameType.ENVIRONMENT_VARIABLE, 'x'.repeat(200))).recorder.errors[0],
    /x\.\.\."$/,
    'shortened',
  );
});

t.test('TTY_REQUEST', async (t) => {
  const tty = stringFrame(FrameType.TTY_REQUEST, encodeTtyPayload({ rows: 40, cols: 100, term: 'vt100' }));
  const { recorder } = run(Buffer.concat([hello(), tty, stringFrame(FrameType.START_COMMAND, 'sh')]));
  t.same((recorder.events[1]![1] as RecordedRequest).tty, { rows: 40, cols: 100, term: 'vt100' });

  const zero = stringFrame(FrameType.TTY_REQUEST, encodeTtyPayload({ rows: 0, cols: 0, term: '' }));
  t.same(
    (
      run(Buffer.concat([hello(), zero, stringFrame(FrameType.START_COMMAND, 'sh')])).recorder
        .events[1]![1] as RecordedRequest
    ).tty,
    {
      rows: 24,
      cols: 80,
      term: '',
    },
  );
  onlyError(t, run(Buffer.concat([hello(), tty, tty])).recorder, /a second TTY_REQUEST/, [
    ['hello', 1, ALL_FEATURES],
  ]);
  onlyError(
    t,
    run(Buffer.concat([hello(), stringFrame(FrameType.TTY_REQUEST, 'abc')])).recorder,
    /malformed TTY_REQUEST/,
    [['hello', 1, ALL_FEATURES]],
  );
});

t.test('WINDOW_SIZE and SIGNAL after START', async (t) => {
  const base = Buffer.concat([hello(), stringFrame(FrameType.START_COMMAND, 'sh')]);
  const { recorder } = run(
    Buffer.concat([
      base,
      encodeResize(50, 132),
      valueFrame(FrameType.WINDOW_SIZE, 0),
      encodeResize(0xffff, 1),
      encodeSignal(1),
      encodeSignal(64),
      encodeTerminate(),
    ]),
  );
  t.same(recorder.events.slice(2), [
    ['resize', 50, 132],
    ['resize', 24, 80],
    ['resize', 0xffff, 1],
    ['signal', 1],
    ['signal', 64],
    ['terminate'],
  ]);
  for (const signal of [0, 65, 0xffffffff]) {
    const bad = run(Buffer.concat([base, valueFrame(FrameType.SIGNAL, signal), encodeSignal(2)])).recorder;
    t.match(bad.events.at(-1), ['error', new RegExp(`invalid signal number ${signal}`)]);
    t.equal(bad.events.length, 3, 'nothing after the error');
  }
});

t.test('after a protocol error the session ignores everything', async (t) => {
  const recorder = new ServerRecorder();
  const session = new ServerSession(recorder);
  session.receive(valueFrame(0x99, 0));
  session.receive(legacyRequest);
  session.receive(valueFrame(FrameType.TERMINATE_COMMAND, 0));
  t.same(recorder.events, [['error', 'unknown frame type 153']]);
  t.notOk(session.started);
});

t.test('a refused request: nothing more is decoded, and nothing it sent is kept', async (t) => {
  const recorder = new ServerRecorder();
  const session = new ServerSession(recorder);
  const argument = stringFrame(FrameType.COMMAND_ARGUMENT, Buffer.alloc(200_000, 'a'));
  // Half of an argument: the decoder is gathering it.
  session.receive(
    Buffer.concat([stringFrame(FrameType.WORKING_DIRECTORY, ''), argument.subarray(0, 100_000)]),
  );
  session.discard();
  session.receive(Buffer.concat([argument.subarray(100_000), legacyRequest, valueFrame(0x99, 0)]));
  t.same(recorder.events, [], 'no request, no protocol error: the refusal was the answer');
  t.notOk(session.started);
});

/** 60000 arguments and 4000 variables of 64 bytes (built here: an async test's frame would keep its temporaries). */
function smallFrames(): Buffer {
  return Buffer.concat([
    ...Array.from({ length: 60_000 }, (_, i) =>
      stringFrame(FrameType.COMMAND_ARGUMENT, `arg-${i}-`.padEnd(64, 'x')),
    ),
    ...Array.from({ length: 4000 }, (_, i) =>
      stringFrame(FrameType.ENVIRONMENT_VARIABLE, `V=${i}`.padEnd(64, 'v')),
    ),
  ]);
}

t.test('a request in progress is held as bytes, not strings (a flood of them: docs/limits.md)', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heapUsed = (): number => {
    gc();
    gc();
    return getHeapStatistics().used_heap_size;
  };
  const wire = smallFrames();
  // Four clients half-way through such a request: as strings, about 20 MiB of V8 heap.
  const before = heapUsed();
  const sessions = Array.from({ length: 4 }, () => {
    const recorder = new ServerRecorder();
    const session = new ServerSession(recorder);
    for (let at = 0; at < wire.length; at += 64 * 1024) session.receive(wire.subarray(at, at + 64 * 1024));
    return { session, recorder };
  });
  const held = heapUsed() - before;
  t.ok(
    held < 8 * 1024 * 1024,
    `4 × ${(wire.length / 1024 / 1024).toFixed(1)} MiB of requests: ${(held / 1024 / 1024).toFixed(1)} MiB of V8 heap`,
  );
  const { session, recorder } = sessions[0]!;
  session.receive(stringFrame(FrameType.START_COMMAND, 'cmd'));
  const start = recorder.events[0] as ['start', RecordedRequest];
  t.equal(start[1].arguments.length, 60_000);
  t.equal(start[1].arguments[59_999], 'arg-59999-'.padEnd(64, 'x'));
  t.same(start[1].environment, [['V', '3999'.padEnd(62, 'v')]], 'one variable, its last value');
});

t.test('frameName and printable', async (t) => {
  t.equal(frameName(0), 'WORKING_DIRECTORY');
  t.equal(frameName(FrameType.WINDOW_SIZE), 'WINDOW_SIZE');
  t.equal(frameName(200), 'frame type 200');
  t.equal(printable('a\nb\u007f'), 'a?b?');
  t.equal(printable('y'.repeat(81)).length, 80);
});
