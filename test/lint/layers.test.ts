/** The layering rule of eslint.config.js: it must catch a static and a dynamic import across layers. */
import { ESLint } from 'eslint';
import t from 'tap';

const eslint = new ESLint();

async function restricted(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: file });
  return result!.messages
    .filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax')
    .map((m) => m.message);
}

t.test('the server may not import the client', async (t) => {
  const messages = await restricted(
    'src/server/stubs.ts',
    "import { install } from '../client/install.js';\nexport const a = install;\nexport const b = () => import('../client/frontend.js');\n",
  );
  t.equal(messages.length, 2);
  t.match(messages[0], /server\/ must not import client\//);
});

t.test('the client may not import the server', async (t) => {
  const messages = await restricted(
    'src/client/frontend.ts',
    "export const b = () => import('../server/main.js');\n",
  );
  t.same(messages, ['client/ must not import server/ (layers: README, Project)']);
});

t.test('protocol/ and config/ import neither side', async (t) => {
  for (const file of ['src/protocol/codec.ts', 'src/config/load.ts'])
    for (const side of ['client', 'server'])
      t.equal((await restricted(file, `export * from '../${side}/x.js';\n`)).length, 1, `${file} → ${side}`);
});

t.test('protocol/ is the lowest floor: it imports nothing outside protocol/', async (t) => {
  const messages = await restricted(
    'src/protocol/server-frames.ts',
    "export { errorLine } from '../errors.js';\n",
  );
  t.equal(messages.length, 1);
  t.match(messages[0], /protocol\/ imports nothing outside protocol\//);
  t.same(
    await restricted('src/protocol/server-frames.ts', "export { errorLine } from './printable.js';\n"),
    [],
  );
});

t.test('neutral modules are free to be imported by both', async (t) => {
  for (const file of ['src/server/stubs.ts', 'src/client/install.ts'])
    t.same(
      await restricted(
        file,
        "import { selfExecutable } from '../runtime/self.js';\nexport const s = selfExecutable;\n",
      ),
      [],
    );
  t.same(await restricted('src/main.ts', "export const m = () => import('./server/main.js');\n"), []);
});
