import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ConfigError, ConfigFileError } from '../../src/config/errors.js';
import { isTomlFile, loadConfig } from '../../src/config/load.js';
import { plain, repoRoot } from './fixtures/helpers.js';

t.test('loadConfig reads k8psh.conf and TOML files', async (t) => {
  const dir = t.testdir({
    'k8psh.conf': 'baseDirectory = ${SUB:-sub}/..\n[h]\nc A=${A}\n',
    'k8psh.toml':
      'baseDirectory = "${SUB:-sub}/.."\n[[servers]]\nname = "h"\ncommands = [{ name = "c", environment = ["A=${A}"] }]\n',
    'K8PSH.TOML': 'connectTimeoutMs = 1',
    'bad.conf': '[h\n',
    'bad.toml': '[[servers]]\nname = 1\n',
  });
  const conf = await loadConfig(path.join(dir, 'k8psh.conf'), { env: { A: 'a' } });
  t.equal(conf.baseDirectory, dir, 'relative to the directory of the file');
  t.strictSame(conf.commands.get('c')?.environment, [{ kind: 'required', name: 'A', value: 'a' }]);
  const tomlConfig = await loadConfig(path.join(dir, 'k8psh.toml'), { env: { A: 'a' } });
  t.strictSame(plain(tomlConfig), plain(conf));
  t.equal(tomlConfig.file, path.join(dir, 'k8psh.toml'));
  t.equal((await loadConfig(path.join(dir, 'K8PSH.TOML'))).connectTimeoutMs, 1, 'the extension in any case');

  const name = `K8PSH_CONFIG_TEST_${process.pid}`;
  writeFileSync(path.join(dir, 'env.conf'), `[h]\nc A=\${${name}}\n`);
  process.env[name] = 'from-process';
  try {
    const fromProcess = await loadConfig(path.join(dir, 'env.conf'));
    t.equal(fromProcess.commands.get('c')?.environment[0]?.value, 'from-process', 'default: process.env');
  } finally {
    delete process.env[name];
  }

  const warnings: string[] = [];
  await loadConfig(path.join(dir, 'k8psh.conf'), { env: {}, warn: (m) => warnings.push(m) });
  t.equal(warnings.length, 1);

  await t.rejects(loadConfig(path.join(dir, 'bad.conf')), ConfigError);
  await t.rejects(loadConfig(path.join(dir, 'bad.toml')), {
    name: 'ConfigError',
    message: `${path.join(dir, 'bad.toml')}:2:1: servers[0].name must be a string, not a number`,
  });
});

t.test('an unreadable file is a one-line ConfigFileError naming the file', async (t) => {
  const dir = t.testdir({});
  const missing = path.join(dir, 'nope.conf');
  await t.rejects(loadConfig(missing), {
    name: 'ConfigFileError',
    file: missing,
    code: 'ENOENT',
    message: `cannot read configuration file ${missing}: ENOENT: no such file or directory`,
  });
  await t.rejects(loadConfig(dir), {
    code: 'EISDIR',
    message: `cannot read configuration file ${dir}: EISDIR: illegal operation on a directory`,
  });
  t.type(new ConfigFileError('f', 'odd'), Error);
  t.equal(new ConfigFileError('f', 'odd').message, 'cannot read configuration file f: odd');
  t.equal(new ConfigFileError('f', null).code, undefined);
});

t.test('isTomlFile', async (t) => {
  t.ok(isTomlFile('a/k8psh.toml'));
  t.ok(isTomlFile('X.TOML'));
  t.notOk(isTomlFile('k8psh.conf'));
  t.notOk(isTomlFile('toml'));
  t.notOk(isTomlFile('k8psh.toml.conf'));
});

/** Static imports of a source file (not `await import(...)`). */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'/gms)].map((m) => m[1] as string);
}

t.test('the k8psh.conf path never loads the toml package', async (t) => {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of staticImports(file)) {
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  };
  const src = path.join(repoRoot, 'src/config');
  visit(path.join(src, 'load.ts'));
  visit(path.join(src, 'index.ts'));
  t.ok(
    seen.has(path.join(src, 'parse.ts')) && seen.has(path.join(src, 'convert.ts')),
    'the walk follows imports',
  );
  t.notOk(seen.has(path.join(src, 'toml.ts')), 'toml.ts is imported lazily');
  t.strictSame([...packages].sort(), ['node:fs', 'node:path'], 'only node built-ins');
  t.match(readFileSync(path.join(src, 'load.ts'), 'utf8'), "await import('./toml.js')");
  t.ok(staticImports(path.join(src, 'toml.ts')).includes('toml'), 'the walk sees a package import');
});
