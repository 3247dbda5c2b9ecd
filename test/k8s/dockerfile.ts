/**
 * The Dockerfile, read without a container engine: a small parser (stages, instructions), the final
 * image's configuration, and its /out/bin layout step run for real on a directory of our choice.
 * Used by test/k8s/dockerfile.test.ts and by the simulated Pod (test/pod/images.test.ts), whose init
 * container's root is made by that very step.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './manifests.js';

export interface Instruction {
  keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  rest: string;
  line: number;
}

export interface Stage {
  image: string;
  /** FROM's --platform, e.g. `$BUILDPLATFORM`. */
  platform: string | undefined;
  name: string | undefined;
  instructions: Instruction[];
}

/** A small Dockerfile reader: comments, blank lines and `\` continuations (the default escape). */
export function instructions(text: string): Instruction[] {
  const result: Instruction[] = [];
  let pending: { parts: string[]; line: number } | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (/^\s*#/.test(line)) return;
    if (pending === undefined && line.trim() === '') return;
    const continued = line.endsWith('\\');
    const body = continued ? line.slice(0, -1) : line;
    pending ??= { parts: [], line: i + 1 };
    pending.parts.push(body.trim());
    if (!continued) {
      const joined = pending.parts.filter((p) => p !== '').join(' ');
      const match = /^(\S+)\s*(.*)$/.exec(joined);
      if (match !== null)
        result.push({ keyword: (match[1] ?? '').toUpperCase(), rest: match[2] ?? '', line: pending.line });
      pending = undefined;
    }
  });
  return result;
}

export function stages(list: Instruction[]): Stage[] {
  const result: Stage[] = [];
  for (const instruction of list) {
    if (instruction.keyword === 'FROM') {
      const all = instruction.rest.split(/\s+/);
      const words = all.filter((w) => !w.startsWith('--'));
      const as = words.findIndex((w) => w.toUpperCase() === 'AS');
      const platform = all.find((w) => w.startsWith('--platform='))?.slice('--platform='.length);
      result.push({
        image: words[0] ?? '',
        platform,
        name: as >= 0 ? words[as + 1] : undefined,
        instructions: [],
      });
    } else {
      const current = result.at(-1);
      if (current === undefined)
        throw new Error(`line ${instruction.line}: ${instruction.keyword} before FROM`);
      current.instructions.push(instruction);
    }
  }
  return result;
}

/** The exec (JSON) form of RUN/ENTRYPOINT/CMD, or undefined for the shell form. */
export function execForm(rest: string): string[] | undefined {
  if (!rest.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(rest);
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === 'string'))
    throw new Error(`not a JSON string array: ${rest}`);
  return parsed;
}

export const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
export const all = instructions(dockerfile);
const byName = new Map(stages(all).map((s) => [s.name, s]));

export function stage(name: string): Stage {
  const found = byName.get(name);
  if (found === undefined) throw new Error(`no stage ${name}`);
  return found;
}

/** What `docker run IMAGE` does and as whom: the final stage's ENTRYPOINT, CMD and USER. */
export function finalImage(): { entrypoint: string[]; cmd: string[]; user: string | undefined } {
  const last = stage('runtime').instructions;
  const form = (keyword: string): string[] =>
    execForm(last.find((i) => i.keyword === keyword)?.rest ?? '') ?? [];
  return {
    entrypoint: form('ENTRYPOINT'),
    cmd: form('CMD'),
    user: last.find((i) => i.keyword === 'USER')?.rest,
  };
}

/** The build stage's RUN that lays out /out/bin, the final image's /bin. */
export function layoutStep(): Instruction | undefined {
  return stage('build').instructions.find((i) => i.keyword === 'RUN' && i.rest.includes('/out/bin'));
}

/**
 * Runs the layout step in this checkout (after `npm run build`, as in the build stage) with /out
 * redirected to `out`: `out/bin` is then what the image's /bin holds. cwd: the directory whose
 * dist/ the step copies from (for the arm64 image, one whose dist is this checkout's dist/arm64).
 */
export function runLayoutStep(
  out: string,
  cwd = ROOT,
): {
  status: number | null;
  stdout: string;
  stderr: string;
  command: string;
} {
  const step = layoutStep();
  if (step === undefined) throw new Error('Dockerfile: no RUN step lays out /out/bin');
  const command = step.rest.replaceAll('/out/', `${out}/`);
  const result = spawnSync('/bin/sh', ['-ec', command], { cwd, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, command };
}
