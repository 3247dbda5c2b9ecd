import t from 'tap';
import { ConfigError } from '../../src/config/errors.js';
import { parseConf } from '../../src/config/parse.js';
import { throwsConfigError } from './fixtures/helpers.js';

const load = (text: string, env: Record<string, string> = {}) => parseConf(text, 'k8psh.conf', { env });

// The bad configurations of the original's test suite, and more; each with its exact message.
const cases: Array<[string, string, string]> = [
  [
    'unknown setting',
    'badoption=value',
    'k8psh.conf:1:1: unknown setting "badoption" (expected baseDirectory or connectTimeoutMs)',
  ],
  [
    'text after a value',
    'baseDirectory=bad value',
    'k8psh.conf:1:19: unexpected text after the value: "value"',
  ],
  [
    'text after a quoted value',
    'baseDirectory="good val\tue" extra\n# This is the second line',
    'k8psh.conf:1:29: unexpected text after the value: "extra"',
  ],
  ['unterminated "', '\n\nbaseDirectory="bad value', 'k8psh.conf:3:15: unterminated double-quoted string'],
  ["unterminated '", "baseDirectory='bad value", 'k8psh.conf:1:15: unterminated single-quoted string'],
  ['unterminated " in a command', '[h]\nc "a\\"', 'k8psh.conf:2:3: unterminated double-quoted string'],
  [
    'bad escape',
    'baseDirectory="bad value\\k"',
    'k8psh.conf:1:25: invalid escape sequence \\k in double-quoted string',
  ],
  [
    'bad escape of a control character',
    'baseDirectory="a\\\n"',
    'k8psh.conf:1:17: invalid escape sequence \\ followed by "\\n" in double-quoted string',
  ],
  [
    'bad \\x escape',
    '[h]\nc "\\x4g"',
    'k8psh.conf:2:4: invalid escape sequence \\x: two hexadecimal digits expected',
  ],
  [
    'short \\x escape',
    '[h]\nc "\\x4"',
    'k8psh.conf:2:4: invalid escape sequence \\x: two hexadecimal digits expected',
  ],
  [
    'newline after [',
    'baseDirectory=${PATH}\n[\nblah]',
    'k8psh.conf:2:2: newline inside section brackets (missing "]")',
  ],
  [
    'port 65536',
    'baseDirectory=${PATH}\n[ blah:65536 ]\nc',
    'k8psh.conf:2:3: port 65536 is out of range (1-65535)',
  ],
  [
    'port 65_36',
    'baseDirectory=${PATH}\n[ blah:65_36 ]\nc',
    'k8psh.conf:2:3: invalid port "65_36": digits expected',
  ],
  ['port 0', '[ blah:0 ]', 'k8psh.conf:1:3: port 0 is out of range (1-65535)'],
  ['empty port', '[blah:]', 'k8psh.conf:1:2: invalid port "": digits expected'],
  ['port from a variable', '[blah:${P}]', 'k8psh.conf:1:2: invalid port "x": digits expected'],
  ['implicit port 65536', '[a:65535]\n[b]', 'k8psh.conf:2:2: port 65536 (previous port + 1) is out of range'],
  [
    'newline before ]',
    'baseDirectory=${PATH}\n[blah\n]',
    'k8psh.conf:2:6: newline inside section brackets (missing "]")',
  ],
  ['newline in a quoted name', "['bl\nah']", 'k8psh.conf:1:5: newline inside section brackets'],
  ['missing ] at the end', '[blah', 'k8psh.conf:1:6: missing "]" at the end of the section header'],
  ['two words in brackets', '[ f : 9 ]', 'k8psh.conf:1:5: "]" expected after the section name, found ":"'],
  ['empty section name', '[ ]', 'k8psh.conf:1:3: empty section name'],
  ['empty quoted section name', "['']", 'k8psh.conf:1:2: empty section name'],
  ['empty host name', '[:80]', 'k8psh.conf:1:2: empty host name in section header'],
  [
    'not an integer',
    'connectTimeoutMs = soon',
    'k8psh.conf:1:20: connectTimeoutMs must be an integer, not "soon"',
  ],
  ['a float', 'connectTimeoutMs = 1.5', 'k8psh.conf:1:20: connectTimeoutMs must be an integer, not "1.5"'],
  ['empty timeout', 'connectTimeoutMs =', 'k8psh.conf:1:19: connectTimeoutMs must be an integer, not ""'],
  [
    'huge timeout',
    'connectTimeoutMs = 2147483648',
    'k8psh.conf:1:20: connectTimeoutMs 2147483648 is out of range (at most 2147483647)',
  ],
  ['setting without =', 'baseDirectory /x', 'k8psh.conf:1:15: "=" expected after baseDirectory'],
  ['empty command name', "[h]\n'' x", 'k8psh.conf:2:1: empty command name'],
  [
    'empty setting name',
    '= x',
    'k8psh.conf:1:1: unknown setting "" (expected baseDirectory or connectTimeoutMs)',
  ],
  ['empty spec name', '[h]\nc ?=x', 'k8psh.conf:2:3: invalid environment variable name ""'],
  ['empty section spec name', '[h] ==x\nc', 'k8psh.conf:1:5: invalid environment variable name ""'],
];

for (const [what, text, message] of cases) {
  t.test(what, async (t) => {
    throwsConfigError(t, () => load(text, { P: 'x' }), message);
  });
}

t.test('a ConfigError is located and one line', async (t) => {
  try {
    load('\n\n\n\n\n\nbaseDirectory="x\\q"');
    t.fail('no error');
  } catch (error) {
    t.type(error, ConfigError);
    const e = error as ConfigError;
    t.equal(e.name, 'ConfigError');
    t.equal(e.file, 'k8psh.conf');
    t.equal(e.line, 7);
    t.equal(e.column, 17);
    t.equal(e.problem, 'invalid escape sequence \\q in double-quoted string');
    t.notMatch(e.message, /\n/);
  }
});
