/**
 * The native stub's frame reader and session (native/front/frames.c, session.c) under
 * AddressSanitizer and UBSan, through the harness native/test/frames-harness.c:
 * - differential: thousands of seeded replies (and hand-picked edge cases) read by the C reader
 *   and by the TypeScript client's ClientSession give the same outcome (exit code and signal,
 *   protocol error message, stdout/stderr bytes, ERROR messages as printed, UTF-8 replacement
 *   included), the C side reading each reply whole and in random pieces;
 * - fuzz: random replies, sizes at the limits, garbage; and replies written through a socketpair to
 *   session_run() in a child, whose exit status must be what the reader predicts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ClientSession } from '../../src/protocol/client-session.js';
import { stringFrame, valueFrame } from '../lib/frames.mjs';
import { compileSanitized } from '../lib/sanitized.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const work = fs.mkdtempSync('/tmp/k8psh-native-frames-');
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));

const harness = path.join(work, 'frames-harness');
const sources = [
  'native/test/frames-harness.c',
  ...['frames', 'session', 'modes', 'utf8'].map((f) => `native/front/${f}.c`),
];
const compiled = compileSanitized(
  harness,
  sources.map((s) => path.join(root, s)),
);
const env = {
  ...process.env,
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:exitcode=86',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1:exitcode=87',
};

function runHarness(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(harness, args, { encoding: 'utf8', env, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** FNV-1a 32, as the harness folds what it saw. */
class Fold {
  size = 0;
  hash = 0x811c9dc5;
  add(bytes: Uint8Array): void {
    let hash = this.hash;
    for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
    this.hash = hash;
    this.size += bytes.length;
  }
  toString(): string {
    return `${this.size}:${this.hash.toString(16).padStart(8, '0')}`;
  }
}

/** The outcome line of the harness, computed by the TypeScript client's session. */
function typescriptOutcome(reply: Buffer): string {
  const [out, err, errors] = [new Fold(), new Fold(), new Fold()];
  let state = 'more';
  let code = 0;
  let signal: number | null = null;
  let message = '';
  const session = new ClientSession({
    onStdout: (chunk) => out.add(chunk),
    onStderr: (chunk) => err.add(chunk),
    onServerError: (text) => errors.add(Buffer.from(`${text}\n`, 'utf8')),
    onExit: (exitCode, exitSignal) => {
      if (state !== 'more') return;
      [state, code, signal] = ['exit', exitCode, exitSignal];
    },
    onProtocolError: (text) => {
      if (state !== 'more') return; // after EXIT_CODE the direct client ignores it: it has exited
      [state, message] = ['broken', text];
    },
  });
  if (reply.length > 0) session.receive(reply);
  return `${state} code=${code} signal=${signal === null ? '-0' : signal} out=${out.toString()} err=${err.toString()} errors=${errors.toString()} message=${message}`;
}

/** A small seeded generator (xorshift32). */
function generator(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

const MIB = 1 << 20;
const hello = (version = 1, magic = 0x3270386b): Buffer => {
  const payload = Buffer.alloc(10);
  payload.writeUInt32LE(magic, 0);
  payload.writeUInt16LE(version, 4);
  payload.writeUInt32LE(15, 6);
  return stringFrame(0x40, payload);
};
const exit = (code: number): Buffer => valueFrame(8, code);

/** Hand-picked replies: the edges a random one rarely hits. */
function edgeCases(): Buffer[] {
  const bad = Buffer.from([
    0xff, 0xc3, 0x28, 0xe2, 0x82, 0xf0, 0x9f, 0x98, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0xc0, 0xaf,
    0xe0, 0x80, 0xaf, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xef, 0xbf, 0xbd, 0xf8, 0x88, 0x80, 0x80,
    0x80, 0xe1,
  ]);
  return [
    Buffer.alloc(0),
    Buffer.concat([hello(), stringFrame(5, 'hi\n'), stringFrame(6, 'warn\n'), valueFrame(5, 0), exit(0)]),
    Buffer.concat([hello(), stringFrame(0x41, 'x: command not found'), exit(127)]),
    Buffer.concat([hello(), stringFrame(0x41, Buffer.alloc(MIB - 1, 0x61)), exit(126)]),
    Buffer.concat([hello(), stringFrame(0x41, Buffer.alloc(MIB, 0x62)), exit(1)]),
    Buffer.concat([hello(), valueFrame(0x41, MIB + 1), Buffer.alloc(16, 0x63)]),
    Buffer.concat([hello(), exit(3), stringFrame(5, 'after the exit')]),
    Buffer.concat([hello(), exit(3), Buffer.from([1])]),
    Buffer.concat([hello(), valueFrame(5, 0xffffffff)]),
    Buffer.concat([hello(), valueFrame(5, 16 * MIB), Buffer.alloc(1000, 0x64)]),
    Buffer.concat([hello(), valueFrame(6, 16 * MIB + 1)]),
    Buffer.concat([hello(), stringFrame(4, 'x')]),
    Buffer.concat([hello(), valueFrame(4, 5)]), // STDIN_DATA announced, no payload byte yet: no error
    Buffer.concat([hello(), valueFrame(4, 0), exit(0)]),
    Buffer.concat([hello(), valueFrame(0x43, 9), exit(137)]),
    Buffer.concat([hello(), valueFrame(0x43, 0), exit(5)]),
    Buffer.concat([hello(), valueFrame(0x43, 64), exit(-1)]),
    Buffer.concat([hello(2)]),
    Buffer.concat([hello(0)]),
    Buffer.concat([hello(1, 0x12345678)]),
    stringFrame(0x40, Buffer.alloc(9)),
    stringFrame(0x40, ''),
    stringFrame(0x41, ''),
    Buffer.concat([hello(), stringFrame(0x41, bad), exit(1)]),
    Buffer.concat([hello(), valueFrame(0x41, 20), Buffer.from('torn')]),
    ...[9, 0x3f, 0x46, 0xff].map((type) => Buffer.concat([hello(), valueFrame(type, 0)])),
    ...[0, 1, 2, 3, 0x44].map((type) => Buffer.concat([hello(), stringFrame(type, 'x')])),
    ...[7, 0x42, 0x45].map((type) => Buffer.concat([hello(), valueFrame(type, 1)])),
    Buffer.from([0x40, 10, 0]), // a torn header
  ];
}

/** A seeded random reply: frames of every kind, lengths that lie, torn ends, garbage. */
function randomReply(next: () => number): Buffer {
  const types = [0, 1, 2, 3, 4, 5, 6, 7, 8, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 9, 0xff];
  const usual = [5, 6, 0x41, 0x40, 0x43, 8];
  const parts: Buffer[] = [];
  const frames = next() % 7;
  for (let f = 0; f < frames; f++) {
    const type = next() % 3 ? types[next() % types.length]! : usual[next() % usual.length]!;
    if (type === 0x40 && next() % 2) {
      parts.push(hello(next() % 3));
      continue;
    }
    if ([7, 8, 0x42, 0x43, 0x45].includes(type) || type > 0x45 || (type > 8 && type < 0x40)) {
      parts.push(valueFrame(type, next() % 3 ? next() % 40 : next()));
      continue;
    }
    const length = next() % 10 === 0 ? next() : next() % 48;
    const payload = Buffer.from(
      Array.from({ length: Math.min(length, 64) }, () => (next() % 5 ? 0x20 + (next() % 95) : next() % 256)),
    );
    // A length that lies (more announced than sent) ends the reply: the rest would be payload.
    parts.push(valueFrame(type, length), payload);
    if (length > payload.length) break;
  }
  if (next() % 10 === 0) parts.push(Buffer.from(Array.from({ length: next() % 9 }, () => next() % 256)));
  return Buffer.concat(parts);
}

t.test('the harness builds with -Wall -Wextra -Werror and the sanitizers', async (t) => {
  t.equal(compiled.status, 0, compiled.stderr);
});

t.test('C reader and TypeScript session agree on every reply', { skip: compiled.status !== 0 }, async (t) => {
  const next = generator(0x5eed);
  const replies = [...edgeCases(), ...Array.from({ length: 3000 }, () => randomReply(next))];
  const file = path.join(work, 'cases');
  fs.writeFileSync(
    file,
    Buffer.concat(replies.flatMap((reply) => [valueFrame(0, reply.length).subarray(1), reply])),
  );
  const r = runHarness(['cases', file]);
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.equal(lines.length, replies.length, 'one outcome per reply');
  let differ = 0;
  replies.forEach((reply, i) => {
    const expected = typescriptOutcome(reply);
    if (lines[i] !== expected && differ++ < 5)
      t.equal(lines[i], expected, `reply ${i}: ${reply.subarray(0, 64).toString('hex')}`);
  });
  t.equal(differ, 0, 'no reply read differently');
  const states = new Set(lines.map((line) => line.split(' ')[0]));
  t.same([...states].sort(), ['broken', 'exit', 'more'], 'every kind of ending was exercised');
});

t.test('fuzz: random replies, whole and in pieces', { skip: compiled.status !== 0 }, async (t) => {
  const r = runHarness(['random', '5000', '12345']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'ok 5000\n');
});

t.test(
  'fuzz: random replies through a socketpair to the session',
  { skip: compiled.status !== 0 },
  async (t) => {
    const r = runHarness(['socket', '150', '777']);
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stdout, 'ok 150\n');
  },
);
