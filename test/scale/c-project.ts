/**
 * A real C project for the scale tests: bench/lib/c-project.mjs's generator (24 units of 16
 * functions of loops and switches, about 0.1 s of gcc -O2 each here, plus main.c, a Makefile that
 * compiles src/*.c into obj/*.o and links `prog`), built with `make -jN` through a compiler stub or
 * with the local gcc. Nothing in its objects names an absolute path, so a build through the stubs
 * (compiled in the tools side's directory) and a local one compare byte for byte.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateCProject } from '../../bench/lib/c-project.mjs';
import { run, type Result } from '../e2e/harness.js';
import { runIn, type SimNode } from '../remote/nodes.js';

export const UNITS = 24;

export interface CProject {
  dir: string;
  /** Translation units: the units and main.c. */
  sources: number;
  /** obj/<unit>.o for every source, as the Makefile names them. */
  objects: string[];
}

/** Writes the project into `dir`; `cc` is the Makefile's compiler (a stub's path, or gcc). */
export function writeCProject(dir: string, options: { cc?: string; units?: number } = {}): CProject {
  const units = options.units ?? UNITS;
  generateCProject(dir, units, { cc: options.cc ?? 'gcc' });
  const names = readdirSync(join(dir, 'src')).filter((name) => name.endsWith('.c'));
  return { dir, sources: names.length, objects: names.map((name) => `obj/${name.slice(0, -2)}.o`).sort() };
}

export interface MakeOptions {
  /** Run make in this node (`ip netns exec`), else here. */
  node?: SimNode;
  jobs?: number;
  /** Overrides the Makefile's CC. */
  cc?: string;
  env?: NodeJS.ProcessEnv;
  /** make's targets (default: the program). */
  targets?: string[];
  timeoutMs?: number;
}

/** `make -s -jN` in the project. */
export function make(project: CProject, options: MakeOptions = {}): Promise<Result> {
  const argv = [
    'make',
    '-s',
    `-j${options.jobs ?? 6}`,
    ...(options.cc ? [`CC=${options.cc}`] : []),
    ...(options.targets ?? []),
  ];
  const runOptions = {
    cwd: project.dir,
    env: options.env ?? process.env,
    timeoutMs: options.timeoutMs ?? 120_000,
  };
  return options.node ? runIn(options.node, argv, runOptions) : run(argv[0]!, argv.slice(1), runOptions);
}

/** The bytes of every object and of the program, by relative name (missing ones left out). */
export function outputs(project: CProject): Map<string, Buffer> {
  const found = new Map<string, Buffer>();
  for (const name of [...project.objects, 'prog'])
    try {
      found.set(name, readFileSync(join(project.dir, name)));
    } catch {
      // Not built.
    }
  return found;
}

/** The names whose bytes differ between two builds, or that only one of them has. */
export { differingOutputs as differences } from '../../bench/lib/c-project.mjs';
