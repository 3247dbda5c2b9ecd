import t from 'tap';
import {
  decodeHelloPayload,
  encodeHelloPayload,
  HELLO_SIZE,
  MIN_PROTOCOL_VERSION,
  negotiateVersion,
} from '../../src/protocol/hello.js';
import {
  decodeTtyPayload,
  decodeWindowSize,
  encodeTtyPayload,
  encodeWindowSize,
} from '../../src/protocol/tty.js';
import {
  ALL_FEATURES,
  CLIENT_FEATURES,
  Feature,
  HELLO_MAGIC,
  PROTOCOL_VERSION,
} from '../../src/protocol/constants.js';
import { hex } from './fixtures/helpers.js';

t.test('HELLO payload', async (t) => {
  t.equal(HELLO_MAGIC, 0x3270386b);
  t.equal(Buffer.from('k8p2').readUInt32LE(0), HELLO_MAGIC, '"k8p2" on the wire');
  t.same([Feature.ERRORS, Feature.SIGNALS, Feature.TTY, Feature.PASSED_STDIO], [1, 2, 4, 8]);
  t.same([CLIENT_FEATURES, ALL_FEATURES], [7, 15], 'a client does not claim PASSED_STDIO by default');
  const payload = encodeHelloPayload({ version: 0x0102, features: 0x80000001 });
  t.equal(payload.length, HELLO_SIZE);
  t.equal(hex(payload), '6b 38 70 32 02 01 01 00 00 80');
  t.same(decodeHelloPayload(payload), { version: 0x0102, features: 0x80000001 });
  t.equal(decodeHelloPayload(payload.subarray(0, 9)), 'malformed HELLO frame');
  t.equal(decodeHelloPayload(Buffer.alloc(10)), 'malformed HELLO frame');
});

t.test('version negotiation', async (t) => {
  t.equal(MIN_PROTOCOL_VERSION, 1);
  t.equal(PROTOCOL_VERSION, 1);
  t.equal(negotiateVersion(1), 1);
  t.equal(negotiateVersion(0xffff), PROTOCOL_VERSION, 'min(client, server)');
  t.match(negotiateVersion(0), /protocol version 0 is too old \(this side speaks 1 to 1\)/);
});

t.test('TTY_REQUEST payload', async (t) => {
  t.equal(hex(encodeTtyPayload({ rows: 24, cols: 80, term: 'xterm' })), '18 00 50 00 78 74 65 72 6d');
  t.same(decodeTtyPayload(encodeTtyPayload({ rows: 300, cols: 65535, term: 'screen-256color' })), {
    rows: 300,
    cols: 65535,
    term: 'screen-256color',
  });
  t.same(
    decodeTtyPayload(encodeTtyPayload({ rows: 0, cols: -5, term: '' })),
    { rows: 24, cols: 80, term: '' },
    'defaults',
  );
  t.same(decodeTtyPayload(encodeTtyPayload({ rows: 1e6, cols: 2.7, term: 'é' })), {
    rows: 65535,
    cols: 2,
    term: 'é',
  });
  t.equal(decodeTtyPayload(Buffer.alloc(3)), 'malformed TTY_REQUEST frame');
});

t.test('WINDOW_SIZE value', async (t) => {
  t.equal(encodeWindowSize(50, 132), (50 << 16) | 132);
  t.equal(encodeWindowSize(0xffff, 0xffff), 0xffffffff, 'unsigned');
  t.same(decodeWindowSize(encodeWindowSize(50, 132)), { rows: 50, cols: 132 });
  t.same(decodeWindowSize(0xffffffff), { rows: 0xffff, cols: 0xffff });
  t.same(decodeWindowSize(0), { rows: 24, cols: 80 });
});
