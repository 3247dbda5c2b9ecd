import t from 'tap';
import { clientEnvironment, commandEnvironment } from '../../src/config/environment.js';
import type { CommandConfig, EnvSpec } from '../../src/config/model.js';
import { parseConf } from '../../src/config/parse.js';
import { lookupIn, substitute } from '../../src/config/substitute.js';

const req = (name: string, value = ''): EnvSpec => ({ kind: 'required', name, value });
const opt = (name: string, value = ''): EnvSpec => ({ kind: 'optional', name, value });
const inh = (name: string, value = ''): EnvSpec => ({ kind: 'inherited', name, value });

/** The command environment as a plain object (it has no prototype). */
function run(specs: EnvSpec[], client: Record<string, string>, server: Record<string, string | undefined>) {
  const result = commandEnvironment(specs, new Map(Object.entries(client)), server);
  return { ...result };
}

t.test('required NAME=default', async (t) => {
  t.strictSame(
    run([req('A', 'dflt')], { A: 'client' }, { A: 'server' }),
    { A: 'client' },
    "the client's value",
  );
  t.strictSame(run([req('A', 'dflt')], {}, { A: 'server' }), { A: 'dflt' }, 'else the default');
  t.strictSame(run([req('A')], {}, { A: 'server' }), { A: '' }, 'an empty default sets it empty');
  t.strictSame(run([req('A')], { A: '' }, {}), { A: '' }, 'a client value may be empty');
  t.strictSame(run([req('A', '${HOME}/x')], {}, { HOME: '/h' }), { A: '/h/x' }, 'the default is substituted');
  t.strictSame(
    run([req('A', 'd')], { A: '${HOME}' }, { HOME: '/h' }),
    { A: '${HOME}' },
    'a client value is not',
  );
});

t.test('optional ?NAME=default', async (t) => {
  t.strictSame(run([opt('A', 'd')], { A: 'client' }, { A: 'server' }), { A: 'client' });
  t.strictSame(run([opt('A')], {}, { A: 'server' }), { A: 'server' }, "empty default: the server's value");
  t.strictSame(run([opt('A')], {}, { A: '' }), { A: '' }, 'set but empty on the server');
  t.strictSame(run([opt('A')], {}, {}), {}, 'unset stays unset');
  t.strictSame(
    run([opt('A', 'd${B:-x}')], {}, { A: 'server' }),
    { A: 'dx' },
    'else the default, substituted',
  );
  t.strictSame(run([opt('A', '${U}')], {}, {}), { A: '' }, 'a default expanding to nothing is set');
});

t.test('inherited =NAME=value', async (t) => {
  t.strictSame(run([inh('A')], { A: 'client' }, { A: 'server' }), { A: 'server' }, 'never the client');
  t.strictSame(run([inh('A')], {}, {}), {}, 'unset stays unset');
  t.strictSame(run([inh('A')], {}, { A: '' }), { A: '' });
  t.strictSame(run([inh('A', 'v')], { A: 'client' }, { A: 'server' }), { A: 'v' });
  t.strictSame(run([inh('A', '${A}:.')], {}, { A: '/lib' }), { A: '/lib:.' });
  t.strictSame(run([inh('A', '${A}:.')], {}, {}), { A: ':.' });
});

t.test('substitution sees the variables computed so far, then the server', async (t) => {
  const specs = [opt('LD_LIBRARY_PATH'), inh('LD_LIBRARY_PATH', '${LD_LIBRARY_PATH}:.')];
  t.strictSame(run(specs, { LD_LIBRARY_PATH: '/c' }, { LD_LIBRARY_PATH: '/s' }), { LD_LIBRARY_PATH: '/c:.' });
  t.strictSame(run(specs, {}, { LD_LIBRARY_PATH: '/s' }), { LD_LIBRARY_PATH: '/s:.' });
  t.strictSame(run(specs, {}, {}), { LD_LIBRARY_PATH: ':.' });
  t.strictSame(
    run([req('A', 'a'), req('B', '${A}-${C}'), req('C', 'c')], { A: 'x' }, { C: 'server-c' }),
    { A: 'x', B: 'x-server-c', C: 'c' },
    'a later variable is not seen yet: the server value is',
  );
  t.strictSame(run([req('A', '${A:-d}')], {}, { A: '' }), { A: '' }, 'set but empty wins over the default');
});

t.test('one variable per name, the last value; nothing else leaks', async (t) => {
  t.strictSame(run([req('A', '1'), req('A', '2')], {}, {}), { A: '2' });
  t.strictSame(run([req('A', '1'), opt('A')], {}, {}), { A: '1' }, 'a spec yielding nothing keeps the value');
  t.strictSame(run([req('A', '1'), inh('A', '${A}2')], {}, {}), { A: '12' });
  t.strictSame(run([], { A: 'client' }, { PATH: '/bin' }), {}, 'no spec: an empty environment');
  t.strictSame(run([req('A')], { B: 'client' }, { C: 's' }), { A: '' });
  const odd = commandEnvironment([req('__proto__', 'x'), req('constructor', 'y')], new Map(), {});
  t.equal(odd.__proto__, 'x');
  t.equal(odd.constructor, 'y');
  t.strictSame(Object.keys(odd), ['__proto__', 'constructor']);
  t.strictSame(run([opt('toString')], {}, {}), {}, 'no inherited properties of the server env');
});

t.test('clientEnvironment: the names of required/optional specs the client has, once each', async (t) => {
  const config = parseConf('[h] S=1 =I=\nc A=1 ?B= =C= A=2 ?D= ?E=\n', 'k8psh.conf', { env: {} });
  const command = config.commands.get('c') as CommandConfig;
  t.strictSame(clientEnvironment(command, { S: 's', I: 'i', A: 'a', B: '', C: 'c', E: 'e', X: 'x' }), [
    ['S', 's'],
    ['A', 'a'],
    ['B', ''],
    ['E', 'e'],
  ]);
  t.strictSame(clientEnvironment(command, {}), []);
  t.strictSame(clientEnvironment(command, { A: undefined }), []);
});

t.test('substitute', async (t) => {
  const lookup = lookupIn({ A: 'a', E: '', 'X Y': 'xy' });
  const cases: Array<[string, string]> = [
    ['', ''],
    ['plain', 'plain'],
    ['${A}', 'a'],
    ['<${A}${A}>', '<aa>'],
    ['${E:-d}', ''],
    ['${U:-d}', 'd'],
    ['${U:-}', ''],
    ['${U}', ''],
    ['${X Y}', 'xy'],
    ['${U:-a b $ { }', 'a b $ { '],
    ['${A', '${A'],
    ['${A:-x', '${A:-x'],
    ['${A:x}', '${A:x}'],
    ['${A/}', '${A/}'],
    ['${${A}}', '${a}'],
    ['$$', '$$'],
    ['$${A}', '$a'],
    ['$', '$'],
    ['${', '${'],
    ['${}', ''],
    ['${A:-${A}}', 'a}'],
  ];
  for (const [text, want] of cases) t.equal(substitute(text, lookup), want, text);
});
