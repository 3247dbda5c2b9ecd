/**
 * scripts/lib/protocol.mjs hands the plain scripts of scripts/ and bench/ src/protocol itself: every
 * name it exports is there (a name renamed in src/protocol would otherwise reach them as undefined)
 * and is src/protocol's.
 */
import t from 'tap';
import * as loaded from '../../scripts/lib/protocol.mjs';
import * as clientSession from '../../src/protocol/client-session.js';
import * as codec from '../../src/protocol/codec.js';
import * as constants from '../../src/protocol/constants.js';
import * as data from '../../src/protocol/data.js';
import * as hello from '../../src/protocol/hello.js';
import * as serverFrames from '../../src/protocol/server-frames.js';

const sources: Record<string, unknown> = {
  ...constants,
  ...codec,
  ...hello,
  ...data,
  ...clientSession,
  ...serverFrames,
};

t.test('every name is defined, with the value or the kind of src/protocol', async (t) => {
  const names = Object.keys(loaded);
  t.ok(names.length > 0);
  for (const name of names) {
    const value = (loaded as Record<string, unknown>)[name];
    t.not(value, undefined, `${name} is defined`);
    if (typeof value === 'function')
      t.equal(typeof sources[name], 'function', `${name} is a function there too`);
    else t.same(value, sources[name], `${name} is src/protocol's`);
  }
});

t.test('its encoders write the bytes of src/protocol', async (t) => {
  const request = {
    hello: true,
    features: loaded.CLIENT_FEATURES | loaded.Feature.PASSED_STDIO,
    workingDirectory: 'src',
    arguments: ['-n'],
    environment: [['LANG', 'C.UTF-8']] as const,
    command: 'cat',
  };
  t.same(loaded.encodeRequest(request), clientSession.encodeRequest(request));
  t.same(
    loaded.encodeHelloReply(loaded.PROTOCOL_VERSION, loaded.ALL_FEATURES),
    serverFrames.encodeHelloReply(constants.PROTOCOL_VERSION, constants.ALL_FEATURES),
  );
  t.same(loaded.encodeExit(3, null, false), serverFrames.encodeExit(3, null, false));
  t.equal(loaded.localSocketPath(4242), constants.localSocketPath(4242));
});

t.test('its session reads the replies as the client does', async (t) => {
  const exits: number[] = [];
  const session = new loaded.ClientSession({
    onServerError: () => t.fail('no error'),
    onProtocolError: (message) => t.fail(message),
    onExit: (code) => exits.push(code),
  });
  session.receive(
    Buffer.concat([
      serverFrames.encodeHelloReply(1, constants.ALL_FEATURES),
      serverFrames.encodeExit(0, null, true),
    ]),
  );
  t.same(exits, [0]);
  t.equal(session.serverFeatures, constants.ALL_FEATURES);
});
