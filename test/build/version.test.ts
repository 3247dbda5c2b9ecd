import * as fs from 'node:fs';
import t from 'tap';
import { packageVersion, version, versionLine } from '../../src/version.js';

const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

t.test('from the sources, version() is the package.json version', async (t) => {
  t.equal(version(), pkg.version);
  t.equal(packageVersion(), pkg.version);
  t.equal(version(), version(), 'stable');
});

t.test('versionLine() names the Node runtime after our version', async (t) => {
  t.equal(versionLine(), `${pkg.version} node ${process.version}`);
});
