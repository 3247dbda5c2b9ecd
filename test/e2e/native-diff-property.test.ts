/**
 * Exactness of the native stub, property-based (issue 15): random configs (sections, ports given or
 * implied, env specs required/optional/inherited with defaults and load-time `${VAR}` references,
 * fixed arguments), random client environments, random arguments and random directory layouts
 * (relative, `..` and symlinked base directories, symlinked working directories, one outside the
 * base, relative K8PSH_CONFIG). Each call is made each way (test/lib/ways.ts) and must give:
 * 1. byte for byte the same request at a recording server (test/lib/request-server.ts), equal to the
 *    request the config and the environment call for (computed here, independently);
 * 2. with the real k8pshd running the recording command, the same outcome and the same arguments,
 *    environ, working directory received.
 * The number of runs is bounded (K8PSH_FC_RUNS, default 25); a failure prints fast-check's seed and
 * path, and K8PSH_FC_SEED replays it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { isAbsolute, join, relative } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import {
  BIN,
  cleanup,
  freePort,
  run,
  SKIP_UNBUILT,
  startServer,
  tempDir,
  writeFile,
  type Server,
} from './harness.js';
import { parseFrames } from '../lib/frames.mjs';
import { buildRecorder, RecordBox } from '../lib/recorder.js';
import { startRequestServer, type RecordedRequest } from '../lib/request-server.js';
import { nativeBuilt, refused, runWay, WAYS, type Outcome, type Way } from '../lib/ways.js';

// ---- The model: what a generated config says ----

type Kind = 'required' | 'optional' | 'inherited';
interface Spec {
  kind: Kind;
  /** The name as written: a plain name, or a load-time reference with a default. */
  name: { plain: string } | { ref: string; def: string };
  value: string;
}
interface Command {
  name: string;
  specs: Spec[];
  fixed: string[];
}
interface Section {
  host: string;
  /** Written in the section header, or implied (the previous section's port + 1). */
  explicitPort: boolean;
  quotedHost: boolean;
  specs: Spec[];
  commands: Command[];
}
type BaseSetting = 'none' | 'absolute' | 'relative' | 'dotdot' | 'symlink' | 'relative-symlink';
type CwdChoice = 'base' | 'sub' | 'deep' | 'symlink' | 'symlink-outside' | 'outside';
interface Scenario {
  sections: Section[];
  configInBase: boolean;
  /** The TOML twin (`k8psh --convert-config`) instead of the k8psh.conf. */
  toml: boolean;
  baseSetting: BaseSetting;
  cwd: CwdChoice;
  relativeConfig: boolean;
  clientEnv: Record<string, string>;
  /** Which command (index into all commands, modulo their number) is called. */
  pick: number;
  args: string[];
  exitCode: number;
}

const NAMES = ['A', 'B', 'LANG', 'TERM', 'x.y', 'EMPTY'];
const COMMAND_NAMES = ['cc', 'make', 'tool-1', 'ünï', 'a.b'];
const VALUES = ['', 'v', "'a b'", '${A}', '${B:-dflt}', "'${LANG}'", '${LOADX}', 'x=y', '"q q"'];

const spec: fc.Arbitrary<Spec> = fc.record({
  kind: fc.constantFrom<Kind>('required', 'optional', 'inherited'),
  name: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...NAMES).map((plain) => ({ plain })) },
    { weight: 1, arbitrary: fc.constantFrom('A', 'B').map((def) => ({ ref: 'NV', def })) },
  ),
  value: fc.constantFrom(...VALUES),
});
const text = fc.string({
  unit: fc.constantFrom('a', ' ', "'", '"', '$', '{', 'é', '-', '\\', '#', '='),
  maxLength: 8,
});
const command: fc.Arbitrary<Command> = fc.record({
  name: fc.constantFrom(...COMMAND_NAMES),
  specs: fc.array(spec, { maxLength: 4 }),
  fixed: fc.array(text, { maxLength: 3 }),
});
const section: fc.Arbitrary<Section> = fc.record({
  host: fc.constant(''),
  explicitPort: fc.boolean(),
  quotedHost: fc.boolean(),
  specs: fc.array(spec, { maxLength: 2 }),
  commands: fc.array(command, { minLength: 1, maxLength: 3 }),
});
/** No NUL: neither an argument nor an environment value can hold one. */
const noNul = (arbitrary: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  arbitrary.map((s) => s.replace(/\0/g, ''));
const argument = fc.oneof(
  { weight: 6, arbitrary: noNul(fc.string({ unit: 'grapheme', maxLength: 12 })) },
  { weight: 2, arbitrary: fc.constantFrom('', ' ', "'", '"', '--', '-c', '$HOME', 'a\nb', '\\', '*') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 2000, maxLength: 5000 }) },
);
const scenario: fc.Arbitrary<Scenario> = fc.record({
  sections: fc
    .array(section, { minLength: 1, maxLength: 2 })
    .map((sections) =>
      sections.map((s, i) => ({ ...s, host: `h${i}`, explicitPort: i === 0 || s.explicitPort })),
    ),
  configInBase: fc.boolean(),
  toml: fc.boolean(),
  baseSetting: fc.constantFrom<BaseSetting>(
    'none',
    'absolute',
    'relative',
    'dotdot',
    'symlink',
    'relative-symlink',
  ),
  cwd: fc.constantFrom<CwdChoice>('base', 'sub', 'deep', 'symlink', 'symlink-outside', 'outside'),
  relativeConfig: fc.boolean(),
  clientEnv: fc
    .tuple(
      fc.dictionary(
        fc.constantFrom(...NAMES.filter((name) => name !== 'LANG'), 'LOADX'),
        fc.oneof(
          fc.constantFrom('', 'c', 'a b', 'x=y', '${A}'),
          noNul(fc.string({ unit: 'grapheme', maxLength: 6 })),
        ),
        { maxKeys: 6 },
      ),
      // NV names a variable (a spec `${NV:-A}=...`): a name, or unset.
      fc.option(fc.constantFrom('A', 'B', 'Q'), { nil: undefined }),
      // One that Node's ICU cannot parse among them: the front keeps it from our runtime (stash.c).
      fc.option(fc.constantFrom('', 'C', 'C.UTF-8', 'fr_FR.UTF-8', 'ǣ🌌', 'aaaaaaaaaaaaaa'), {
        nil: undefined,
      }),
    )
    .map(([env, nv, lang]) => ({
      ...env,
      ...(nv === undefined ? {} : { NV: nv }),
      ...(lang === undefined ? {} : { LANG: lang }),
    })),
  pick: fc.nat(20),
  args: fc.array(argument, { maxLength: 5 }),
  exitCode: fc.constantFrom(0, 1, 42, 255),
});

/** A string in single quotes: literal, no load-time substitution, `''` for `'`. */
const quoted = (value: string): string => `'${value.replace(/'/g, "''")}'`;

function specText(s: Spec): string {
  const prefix = s.kind === 'optional' ? '?' : s.kind === 'inherited' ? '=' : '';
  const name = 'plain' in s.name ? s.name.plain : `\${${s.name.ref}:-${s.name.def}}`;
  return `${prefix}${name}=${s.value}`;
}

function configText(sc: Scenario, ports: number[], baseLine: string, recorder: string): string {
  const lines = ['connectTimeoutMs = 2000', baseLine];
  sc.sections.forEach((s, i) => {
    const host = s.quotedHost ? quoted(s.host) : s.host;
    const header = s.explicitPort ? `[ ${host}:${ports[i]} ]` : `[ ${host} ]`;
    lines.push([header, ...s.specs.map(specText)].join(' '));
    for (const c of s.commands)
      lines.push(
        [c.name, ...c.specs.map(specText), recorder, 'args', '--', ...c.fixed.map(quoted)].join(' '),
      );
  });
  return `${lines.join('\n')}\n`;
}

/** The name a spec has for a client environment (load-time reference resolved). */
function specName(s: Spec, env: Record<string, string>): string {
  return 'plain' in s.name ? s.name.plain : (env[s.name.ref] ?? s.name.def);
}

/** The command a stub of `name` runs (the last definition wins) and its section's index. */
function lookup(sc: Scenario, name: string): { sectionIndex: number; command: Command } {
  let found: { sectionIndex: number; command: Command } | undefined;
  sc.sections.forEach((s, sectionIndex) => {
    for (const c of s.commands) if (c.name === name) found = { sectionIndex, command: c };
  });
  return found!;
}

/** The request the config says this client must send (docs/protocol.md, passed descriptors). */
function expectedFrames(sc: Scenario, name: string, workdir: string, env: Record<string, string>): string[] {
  const { sectionIndex, command } = lookup(sc, name);
  const seen = new Set<string>();
  const variables: string[] = [];
  for (const s of [...sc.sections[sectionIndex]!.specs, ...command.specs]) {
    const specName_ = specName(s, env);
    if (s.kind === 'inherited' || seen.has(specName_)) continue;
    seen.add(specName_);
    if (env[specName_] !== undefined) variables.push(`1 ${specName_}=${env[specName_]}`);
  }
  return [
    `64 k8p2 v1 features 15`,
    `0 ${workdir}`,
    ...sc.args.map((arg) => `2 ${arg}`),
    ...variables,
    `3 ${name}`,
  ];
}

/** A recorded request as readable lines (type and payload), HELLO decoded. */
function frameLines(request: RecordedRequest): string[] {
  const { frames, rest } = parseFrames(request.bytes);
  assert.equal(rest, 0, 'no torn frame');
  return frames.map((frame) => {
    const payload = frame.payload ?? Buffer.alloc(0);
    if (frame.type === 0x40)
      return `64 ${payload.subarray(0, 4).toString('latin1')} v${payload.readUInt16LE(4)} features ${payload.readUInt32LE(6)}`;
    return `${frame.type} ${payload.toString('utf8')}`;
  });
}

async function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port }, () => server.close(() => resolve(true)));
  });
}

/** Two free consecutive ports (a section without a port is the previous one's + 1). */
async function consecutivePorts(): Promise<[number, number]> {
  for (;;) {
    const port = await freePort();
    if (port < 65535 && (await bindable(port + 1))) return [port, port + 1];
  }
}

t.test(
  'random configs, environments and layouts: the same request and outcome each way',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const native = await nativeBuilt();
    t.comment(
      native ? 'native stub built in: K8PSH_NATIVE=1 proves it ran' : 'no native stub yet: 3rd way = default',
    );
    const root = realpathSync(tempDir('k8psh-prop-'));
    t.teardown(() => cleanup(root));
    const recorder = buildRecorder(root);
    const ports = await consecutivePorts();
    const numRuns = Number(process.env.K8PSH_FC_RUNS ?? 25);
    const seed = process.env.K8PSH_FC_SEED === undefined ? undefined : Number(process.env.K8PSH_FC_SEED);
    let runIndex = 0;
    let nativeRuns = 0;

    const property = fc.asyncProperty(scenario, async (sc) => {
      const dir = join(root, `run-${runIndex++}`);
      const box = new RecordBox(join(dir, 'records'));
      const rec = `${quoted(recorder)} ${quoted(box.dir)}`;
      // The layout: a base with subdirectories, a symlink to it, a directory outside it.
      const base = join(dir, 'real base');
      const sub = join(base, 'a b');
      const deep = join(sub, 'ünï', 'x');
      mkdirSync(deep, { recursive: true });
      const outside = join(dir, 'outside');
      mkdirSync(outside);
      symlinkSync(base, join(dir, 'baselink'));
      symlinkSync(sub, join(dir, 'cwdlink'));
      symlinkSync(outside, join(sub, 'uplink'));
      const confDir = sc.configInBase || sc.baseSetting === 'none' ? base : join(dir, 'conf');
      const baseLine = {
        none: '',
        absolute: `baseDirectory = ${quoted(base)}`,
        relative: `baseDirectory = ${quoted(relative(confDir, base) || '.')}`,
        // Written with `no/..` in it (path.join would normalise it away): the loader normalises.
        dotdot: `baseDirectory = ${quoted(`${confDir}/no/../${relative(confDir, base)}`)}`,
        symlink: `baseDirectory = ${quoted(join(dir, 'baselink'))}`,
        'relative-symlink': `baseDirectory = ${quoted(relative(confDir, join(dir, 'baselink')))}`,
      }[sc.baseSetting];
      const confPath = writeFile(join(confDir, 'k8psh.conf'), configText(sc, ports, baseLine, rec));
      let configPath = confPath;
      if (sc.toml) {
        const converted = await run(BIN, ['--convert-config', confPath], { env: { PATH: process.env.PATH } });
        assert.equal(converted.code, 0, converted.err);
        configPath = writeFile(join(confDir, 'k8psh.toml'), converted.stdout);
      }
      const cwd = {
        base,
        sub,
        deep,
        symlink: join(dir, 'cwdlink'),
        'symlink-outside': join(sub, 'uplink'),
        outside,
      }[sc.cwd];
      const physicalCwd = realpathSync(cwd);
      const workdir = relative(base, physicalCwd);
      const inside = !(workdir === '..' || workdir.startsWith('../') || isAbsolute(workdir));
      const configRef = sc.relativeConfig ? relative(physicalCwd, configPath) || 'k8psh.conf' : configPath;
      const env: NodeJS.ProcessEnv = {
        ...sc.clientEnv,
        PATH: process.env.PATH,
        HOME: dir,
        K8PSH_CONFIG: configRef,
        K8PSH_CACHE_DIR: join(dir, 'cache'),
        K8PSH_TTY: '0',
      };
      const names = [...new Set(sc.sections.flatMap((s) => s.commands.map((c) => c.name)))];
      const name = names[sc.pick % names.length]!;
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      symlinkSync(BIN, join(bin, name));
      const hosts = sc.sections.map((s) => s.host);
      const { sectionIndex } = lookup(sc, name);
      const call = (way: Way): Promise<Outcome> => runWay(way, join(bin, name), sc.args, { env, cwd });

      // 1. The request, byte for byte, at a recording server on every port the config names.
      const recorders = await Promise.all(hosts.map((_, i) => startRequestServer(ports[i]!, sc.exitCode)));
      const outcomes = new Map<Way, Outcome>();
      const requests = new Map<Way, RecordedRequest[]>();
      try {
        for (const way of WAYS) {
          outcomes.set(way, await call(way));
          requests.set(
            way,
            recorders.flatMap((r) => r.take()),
          );
        }
      } finally {
        await Promise.all(recorders.map((r) => r.close()));
      }
      const ts = outcomes.get('ts')!;
      assert.deepEqual(outcomes.get('first'), ts, 'default way: same outcome');
      assert.deepEqual(requests.get('first'), requests.get('ts'), 'default way: same request bytes');
      const nativeRefused = native && refused(outcomes.get('native')!);
      if (!inside) {
        assert.equal(requests.get('ts')!.length, 0, 'outside the base: nothing sent');
        assert.notEqual(ts.code, 0);
        assert.match(
          ts.stderr,
          /^k8psh: [^\n]*outside the base directory[^\n]*\n$/,
          JSON.stringify({ ts, workdir }),
        );
        if (native) assert.ok(nativeRefused, 'outside the base: K8PSH_NATIVE=1 hands over');
        else assert.deepEqual(outcomes.get('native'), ts);
        return;
      }
      assert.deepEqual(
        ts,
        { code: sc.exitCode, signal: null, stdout: '', stderr: '' },
        'the server’s exit code',
      );
      assert.ok(!nativeRefused, `ran natively: ${outcomes.get('native')!.stderr}`);
      if (native) nativeRuns++;
      assert.deepEqual(outcomes.get('native'), ts, 'native way: same outcome');
      assert.deepEqual(requests.get('native'), requests.get('ts'), 'native way: same request bytes');
      const [request] = requests.get('ts')!;
      assert.equal(requests.get('ts')!.length, 1);
      assert.equal(request!.via, 'local');
      assert.equal(request!.fds, 3, 'stdin, stdout, stderr passed');
      assert.equal(recorders.indexOf(recorders[sectionIndex]!), sectionIndex);
      assert.deepEqual(
        frameLines(request!),
        expectedFrames(sc, name, workdir, sc.clientEnv),
        'the request the config says',
      );

      // 2. The real k8pshd of every host runs the recording command.
      const servers: Server[] = [];
      try {
        // A host whose commands were all redefined further on has none left: no server (it would exit).
        const serving = new Set(names.map((n) => lookup(sc, n).sectionIndex));
        for (const [i, host] of hosts.entries())
          if (serving.has(i))
            servers.push(
              await startServer(['--name', host, '-c', configPath, '-d'], ports[i]!, {
                env: { PATH: process.env.PATH, A: 'server A', LANG: 'server-lang', LOADX: 'server-loadx' },
                cwd: dir,
              }),
            );
        const received = new Map<Way, unknown>();
        for (const way of WAYS) {
          outcomes.set(way, await call(way));
          received.set(way, box.take());
        }
        const real = outcomes.get('ts')!;
        const { command } = lookup(sc, name);
        const lines = [...command.fixed, ...sc.args].map((arg) => `${arg}\n`).join('');
        assert.deepEqual(real, {
          code: 0,
          signal: null,
          stdout: Buffer.from(lines).toString('latin1'),
          stderr: '',
        });
        assert.deepEqual(outcomes.get('first'), real, 'default way: same outcome at k8pshd');
        assert.deepEqual(outcomes.get('native'), real, 'native way: same outcome at k8pshd');
        assert.deepEqual(
          received.get('first'),
          received.get('ts'),
          'default way: the command received the same',
        );
        assert.deepEqual(
          received.get('native'),
          received.get('ts'),
          'native way: the command received the same',
        );
        assert.equal((received.get('ts') as unknown[]).length, 1, 'the command ran once');
      } finally {
        await Promise.all(servers.map((server) => server.stop()));
        rmSync(dir, { recursive: true, force: true });
      }
    });

    try {
      await fc.assert(property, { numRuns, seed, endOnFailure: true });
      t.pass(`${numRuns} random scenarios${native ? `, ${nativeRuns} run natively` : ''}`);
    } catch (error) {
      // fast-check's message: seed and path (to replay with K8PSH_FC_SEED), counterexample, the error.
      const message = (error as Error).message;
      t.fail(message.split('\n')[0]!);
      t.comment(message);
      const cause = (error as Error).cause;
      t.comment(cause instanceof Error ? cause.message : String(cause));
    }
  },
);
