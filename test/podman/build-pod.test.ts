/**
 * config/k8s/build-pod.yaml as a real Pod (issue 23, item 2), the images replaced by local ones (our
 * image from the Dockerfile; `gcc:13-bookworm` by a root of Debian's gcc, make, binutils and
 * libc6-dev; `debian:bookworm-slim` by a glibc root with a shell and coreutils, no compiler) and
 * `ports:` dropped; everything else as shipped. Checked:
 * - the builder's own script (make through the stubs, its program run locally), its probe;
 * - a small C project built from the builder through the stubs: by `make` (one stub call, make runs
 *   in the compiler container) and by one `gcc -c` stub call per file; the objects are relocatable
 *   ELF files, byte for byte those the compiler container makes directly, and the program runs in
 *   the builder. Both builds are timed against the same builds run directly in the compiler
 *   container (test comments).
 */
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, SKIP_UNBUILT } from '../e2e/harness.js';
import { loadManifests } from '../k8s/manifests.js';
import { buildK8pshImage, clientImage, toolsImage, toolsUnavailable } from './base-images.js';
import { lines, localize, playPod, type PlayedPod } from './play.js';
import { podmanUnusable } from './podman.js';

const skip = SKIP_UNBUILT || podmanUnusable() || toolsUnavailable();

const documents = loadManifests(join(ROOT, 'config/k8s/build-pod.yaml')).map((m) => m.object);

/** A small C project: a few units with a header, each doing a little work, and a program using them. */
const UNITS = ['sum', 'product', 'fib', 'primes', 'gcd', 'collatz'];
const PROJECT: Record<string, string> = {
  'units.h': UNITS.map((u) => `long ${u}(long n);\n`).join(''),
  'sum.c': 'long sum(long n) { long s = 0; for (long i = 1; i <= n; i++) s += i; return s; }\n',
  'product.c': 'long product(long n) { long p = 1; for (long i = 2; i <= n; i++) p *= i; return p; }\n',
  'fib.c':
    'long fib(long n) { long a = 0, b = 1; while (n-- > 0) { long c = a + b; a = b; b = c; } return a; }\n',
  'primes.c':
    'long primes(long n) { long c = 0; for (long i = 2; i <= n; i++) { long p = 1; for (long d = 2; d * d <= i; d++) if (i % d == 0) { p = 0; break; } c += p; } return c; }\n',
  'gcd.c':
    'long gcd(long n) { long a = n * 12, b = 18; while (b) { long t = a % b; a = b; b = t; } return a; }\n',
  'collatz.c':
    'long collatz(long n) { long s = 0; while (n != 1) { n = n % 2 ? 3 * n + 1 : n / 2; s++; } return s; }\n',
  'main.c': `#include <stdio.h>
#include "units.h"
int main(void) {
  printf("%ld %ld %ld %ld %ld %ld\\n", sum(100), product(10), fib(50), primes(1000), gcd(7), collatz(27));
  return 0;
}
`,
  Makefile: `OBJS = ${[...UNITS, 'main'].map((u) => `${u}.o`).join(' ')}
CFLAGS = -O2
app: $(OBJS)
\t$(CC) -o $@ $(OBJS)
$(OBJS): units.h
clean:
\trm -f app $(OBJS)
`,
};
const OBJECTS = [...UNITS, 'main'].map((u) => `${u}.o`).sort();
const EXPECTED = '5050 3628800 12586269025 168 6 111';

/** The files of a project directory in the workspace volume (read from the host). */
function writeProject(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(PROJECT)) writeFileSync(join(dir, name), text);
}

/** Runs `build` RUNS times in a fresh project state, timed inside the container; the median. */
const RUNS = 3;
async function timedBuilds(
  played: PlayedPod,
  container: string,
  workdir: string,
  build: string,
): Promise<{ ms: number[]; median: number; out: string; err: string; code: number | null }> {
  const script = [
    `for i in $(seq ${RUNS}); do`,
    '  rm -f app *.o',
    '  start=$(date +%s%N)',
    `  ${build} >build.out || exit 1`,
    '  echo "ms $(( ($(date +%s%N) - start) / 1000 ))"',
    'done',
    'cat build.out',
  ].join('\n');
  const result = await played.exec(container, ['/bin/sh', '-c', script], { workdir, timeoutMs: 120000 });
  const ms = [...result.out.matchAll(/^ms (\d+)$/gm)].map((m) => Number(m[1]) / 1000);
  const median = [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)] ?? NaN;
  return { ms, median, ...result, out: result.out.replace(/^ms \d+\n/gm, '') };
}

function figures(ms: number[]): string {
  return ms.map((m) => m.toFixed(0)).join(', ');
}

t.test('config/k8s/build-pod.yaml, played as a Pod', { skip, timeout: 240000 }, async (t) => {
  const images = {
    'ghcr.io/k8psh/k8psh-node:0.1.0': (await buildK8pshImage()).tag,
    'gcc:13-bookworm': (await toolsImage()).tag,
    'debian:bookworm-slim': (await clientImage()).tag,
  };
  const pod = localize(
    documents.find((d) => d.kind === 'Pod')!,
    images,
  );
  const played = await playPod(t, [...documents.filter((d) => d.kind === 'ConfigMap'), pod]);
  t.comment(`build-tools Pod played (init container included) in ${played.playMs} ms`);

  // The builder's own script, as shipped: stubs, make through them, the program run here.
  await played.waitLog('builder', /build-tools Pod ready/, 120000);
  const builder = await played.logs('builder');
  t.match(builder.out, /^hello from a program compiled in the compiler container$/m, 'its hello ran');
  t.match(builder.out, /^gcc \(Debian [^)]+\) \d+\.\d+/m, "gcc --version: the compiler container's gcc");
  t.equal((await played.state('builder')).status, 'running', 'and it stays up for kubectl exec');
  const attempts = await played.waitHealthy('compiler', 30000);
  t.pass(`the compiler's probe (k8pshd --health, podman's healthcheck) passes (attempt ${attempts})`);

  await t.test('the builder has no compiler: its gcc and make are stubs', async (t) => {
    const which = await played.exec('builder', [
      '/bin/sh',
      '-c',
      'for c in gcc make cc ld as; do command -v $c; done',
    ]);
    t.same(
      lines(which.out),
      ['gcc', 'make', 'cc', 'ld', 'as'].map((n) => `/opt/k8psh/stubs/${n}`),
      'found first on PATH: the stubs',
    );
    const own = await played.exec('builder', [
      '/bin/sh',
      '-c',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; for c in gcc make cc; do command -v $c; done; echo none',
    ]);
    t.equal(own.out, 'none\n', 'none of its own');
  });

  const workspace = await played.volumePath('workspace');
  writeProject(join(workspace, 'stubs-make'));
  writeProject(join(workspace, 'direct-make'));
  writeProject(join(workspace, 'stubs-gcc'));
  writeProject(join(workspace, 'direct-gcc'));
  const perFile = 'for f in *.c; do gcc -O2 -c "$f" || exit 1; done && gcc -o app *.o';

  await t.test('make through the stubs vs make in the compiler container', async (t) => {
    const viaStubs = await timedBuilds(played, 'builder', '/src/stubs-make', 'make CC=gcc');
    t.equal(viaStubs.code, 0, 'make through its stub', { out: viaStubs.out, err: viaStubs.err });
    const direct = await timedBuilds(played, 'compiler', '/workspace/direct-make', 'make CC=gcc');
    t.equal(direct.code, 0, 'make in the compiler container', { out: direct.out, err: direct.err });
    t.equal(viaStubs.out, direct.out, 'the same commands printed');
    t.match(viaStubs.out, /^gcc -O2\s+-c -o main\.o main\.c$/m, "make's own rules, gcc from CC");
    t.comment(
      `make (7 compilations, 1 link), median of ${RUNS}: through the stubs ${viaStubs.median.toFixed(0)} ms ` +
        `(${figures(viaStubs.ms)}), in the tools container ${direct.median.toFixed(0)} ms (${figures(direct.ms)})`,
    );
  });

  await t.test('gcc -c per file through the stubs vs in the compiler container', async (t) => {
    const viaStubs = await timedBuilds(played, 'builder', '/src/stubs-gcc', perFile);
    t.equal(viaStubs.code, 0, '8 gcc stub calls', { out: viaStubs.out, err: viaStubs.err });
    const direct = await timedBuilds(played, 'compiler', '/workspace/direct-gcc', perFile);
    t.equal(direct.code, 0, '8 gcc runs in the compiler container', { out: direct.out, err: direct.err });
    t.comment(
      `gcc per file (7 compilations, 1 link: 8 stub calls), median of ${RUNS}: through the stubs ` +
        `${viaStubs.median.toFixed(0)} ms (${figures(viaStubs.ms)}), in the tools container ` +
        `${direct.median.toFixed(0)} ms (${figures(direct.ms)})`,
    );
  });

  await t.test('the objects: relocatable ELF, the same bytes however built; the program runs', async (t) => {
    for (const project of ['stubs-make', 'direct-make', 'stubs-gcc', 'direct-gcc']) {
      const files = readdirSync(join(workspace, project));
      t.same(files.filter((f) => f.endsWith('.o')).sort(), OBJECTS, `${project}: every object`);
      t.ok(files.includes('app'), `${project}: the program`);
    }
    for (const object of OBJECTS) {
      const bytes = readFileSync(join(workspace, 'stubs-make', object));
      t.equal(bytes.subarray(0, 4).toString('latin1'), '\x7fELF', `${object}: ELF`);
      t.equal(bytes.readUInt16LE(16), 1, `${object}: ET_REL, an object file`);
      t.equal(bytes.readUInt16LE(18), 62, `${object}: x86-64`);
      for (const other of ['direct-make', 'stubs-gcc', 'direct-gcc'])
        t.ok(bytes.equals(readFileSync(join(workspace, other, object))), `${object}: same bytes in ${other}`);
    }
    for (const project of ['stubs-make', 'stubs-gcc']) {
      const run = await played.exec('builder', ['./app'], { workdir: `/src/${project}` });
      t.equal(run.out, `${EXPECTED}\n`, `${project}/app runs in the builder`, { err: run.err });
    }
  });

  await t.test('a compile error through the stub: its status and its diagnostics', async (t) => {
    writeFileSync(join(workspace, 'stubs-gcc', 'broken.c'), 'int main(void) { return }\n');
    const broken = await played.exec('builder', ['gcc', '-c', 'broken.c'], { workdir: '/src/stubs-gcc' });
    t.equal(broken.code, 1, 'exit 1 in the builder');
    t.match(broken.err, /broken\.c:1:\d+: error/, "gcc's diagnostic on the builder's stderr");
  });
});
