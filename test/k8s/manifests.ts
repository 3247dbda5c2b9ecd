/**
 * Helpers for the Kubernetes manifest tests: load every YAML document of config/k8s/, validate it
 * against the Kubernetes OpenAPI schema (kubernetes-models), and check field names strictly.
 *
 * kubernetes-models' `validate()` checks types and required fields but lets unknown fields through
 * (a misspelt `volumeMount` would pass, while `kubectl apply` rejects it under strict field
 * validation). `strictFieldErrors` closes that gap: it type-checks each document as an object literal
 * of the model's TypeScript interface, so TypeScript's excess-property check reports unknown fields.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Pod } from 'kubernetes-models/v1/Pod';
import type { Test } from 'tap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { parseConf } from '../../src/config/parse.js';
import type { Config } from '../../src/config/model.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MANIFEST_DIR = path.join(ROOT, 'config/k8s');

export interface Manifest {
  file: string;
  /** Index of the document in its file. */
  index: number;
  object: Record<string, unknown>;
}

/**
 * A kind's checks: `validate` throws on an invalid object; `type`, exported by `module` (a package
 * path, or one relative to this directory), is the interface the strict check types it as.
 */
export interface Model {
  validate: (o: Record<string, unknown>) => void;
  module: string;
  type: string;
}

export type Models = Record<string, Model>;

/** The models this project's manifests use: kind -> validating class and TypeScript interface. */
export const MODELS: Models = {
  Job: {
    validate: (o) => new Job(o).validate(),
    module: 'kubernetes-models/batch/v1/Job',
    type: 'IJob',
  },
  Pod: {
    validate: (o) => new Pod(o).validate(),
    module: 'kubernetes-models/v1/Pod',
    type: 'IPod',
  },
  ConfigMap: {
    validate: (o) => new ConfigMap(o).validate(),
    module: 'kubernetes-models/v1/ConfigMap',
    type: 'IConfigMap',
  },
};

export function manifestFiles(): string[] {
  return readdirSync(MANIFEST_DIR)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(MANIFEST_DIR, name));
}

/** Every document of a YAML text; a YAML error (syntax, duplicate key...) throws with the file named. */
export function parseManifests(text: string, file: string): Manifest[] {
  return parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true }).map((document, index) => {
    const problems = [...document.errors, ...document.warnings];
    if (problems.length > 0) {
      throw new Error(`${file} document ${index}: ${problems.map((p) => p.message).join('; ')}`);
    }
    const object: unknown = document.toJS();
    if (object === null || typeof object !== 'object' || Array.isArray(object)) {
      throw new Error(`${file} document ${index}: not a mapping`);
    }
    return { file, index, object: object as Record<string, unknown> };
  });
}

export function loadManifests(file: string): Manifest[] {
  return parseManifests(readFileSync(file, 'utf8'), file);
}

let loaded: Manifest[] | undefined;

/** Every document of every file of config/k8s, read once. */
export function allManifests(): Manifest[] {
  loaded ??= manifestFiles().flatMap(loadManifests);
  return loaded;
}

export function manifestsOf(name: string): Manifest[] {
  const found = allManifests().filter((m) => path.basename(m.file) === name);
  if (found.length === 0) throw new Error(`config/k8s/${name}: no documents`);
  return found;
}

export function workload(name: string, kind: string): IPodSpec {
  const found = manifestsOf(name).find((m) => m.object.kind === kind);
  if (found === undefined) throw new Error(`config/k8s/${name}: no ${kind}`);
  return podSpecOf(found.object);
}

/** A container's command line: command, then args. */
export function args(c: IContainer): string[] {
  return [...(c.command ?? []), ...(c.args ?? [])];
}

/** The shell script of a `[/bin/sh, -c, SCRIPT]` container. */
export function script(c: IContainer): string {
  const [shell, flag, text] = c.command ?? [];
  if (shell !== '/bin/sh' || flag !== '-c' || text === undefined)
    throw new Error(`${c.name}: not a /bin/sh -c script`);
  return text;
}

/**
 * Loads the k8psh.conf a container uses (--config, else $K8PSH_CONFIG) from the ConfigMap mounted
 * there, with the container's own environment, like k8psh in that container would. `fileName` is the
 * manifest the Pod comes from (its own ConfigMap is looked up there first), if it comes from one.
 */
export function configOf(
  fileName: string | undefined,
  spec: IPodSpec,
  c: IContainer,
  commandLine: readonly string[] = c.args ?? [],
): { config: Config; warnings: string[] } {
  // In the same file, else in another file of config/k8s (a pod template holds only its Pod).
  const own = fileName === undefined ? [] : manifestsOf(fileName);
  return configIn([...own, ...allManifests()], spec, c, commandLine);
}

/** configOf, with the ConfigMap looked up among `candidates` (the first of its name wins). */
export function configIn(
  candidates: readonly Manifest[],
  spec: IPodSpec,
  c: IContainer,
  commandLine: readonly string[] = c.args ?? [],
): { config: Config; warnings: string[] } {
  const env = envOf(c);
  const file = option(commandLine, '--config') ?? env.K8PSH_CONFIG;
  if (file === undefined) throw new Error(`${c.name}: no --config and no K8PSH_CONFIG`);
  const mount = c.volumeMounts?.find((m) => m.mountPath === path.dirname(file));
  if (mount === undefined) throw new Error(`${c.name}: nothing mounted at ${path.dirname(file)}`);
  const volume = spec.volumes?.find((v) => v.name === mount.name);
  const mapName = volume?.configMap?.name;
  if (mapName === undefined) throw new Error(`${c.name}: ${mount.mountPath} is not a ConfigMap volume`);
  const map = candidates.find(
    (m) => m.object.kind === 'ConfigMap' && (m.object.metadata as { name?: string }).name === mapName,
  );
  if (map === undefined) throw new Error(`${c.name}: no ConfigMap ${mapName} in config/k8s`);
  const text = (map.object.data as Record<string, string> | undefined)?.[path.basename(file)];
  if (text === undefined) throw new Error(`ConfigMap ${mapName} has no key ${path.basename(file)}`);
  const warnings: string[] = [];
  const config = parseConf(text, file, { env, warn: (m) => warnings.push(m) });
  return { config, warnings };
}

/** Validates against the Kubernetes schema; throws on an unknown kind or an invalid object. */
export function validateManifest(object: Record<string, unknown>, models: Models = MODELS): void {
  const kind = String(object.kind);
  const model = models[kind];
  if (model === undefined) throw new Error(`no model for kind ${kind}`);
  model.validate(object);
}

/**
 * Type-checks each manifest as a literal of its model's interface; returns the TypeScript messages
 * (unknown fields, wrong types), each prefixed with the manifest it came from. Empty: all clean.
 */
export function strictFieldErrors(manifests: Manifest[], models: Models = MODELS): string[] {
  const virtual = path.join(ROOT, 'test/k8s/__strict_manifests__.ts');
  const lines: string[] = [];
  const origins: string[] = [];
  manifests.forEach((manifest, i) => {
    const model = models[String(manifest.object.kind)];
    if (model === undefined) throw new Error(`no model for kind ${String(manifest.object.kind)}`);
    lines.push(`import type { ${model.type} as T${i} } from '${model.module}';`);
    origins.push(`${path.relative(ROOT, manifest.file)}#${manifest.index}`);
  });
  const firstLine: number[] = [];
  manifests.forEach((manifest, i) => {
    firstLine.push(lines.length);
    lines.push(`export const m${i}: T${i} = ${JSON.stringify(manifest.object, null, 2)};`);
  });
  const source = `${lines.join('\n')}\n`;

  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
    lib: ['lib.es2022.d.ts'],
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (file, languageVersion, ...rest) =>
    file === virtual
      ? ts.createSourceFile(file, source, languageVersion)
      : getSourceFile(file, languageVersion, ...rest);
  host.fileExists = (file) => file === virtual || fileExists(file);
  const program = ts.createProgram([virtual], options, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (diagnostic.file?.fileName !== virtual || diagnostic.start === undefined) return message;
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    let owner = -1;
    firstLine.forEach((start, i) => {
      if (start <= line) owner = i;
    });
    return `${origins[owner] ?? 'imports'}: ${message}`;
  });
}

export function podSpecOf(object: Record<string, unknown>): IPodSpec {
  if (object.kind === 'Pod') return (object as { spec: IPodSpec }).spec;
  if (object.kind === 'Job' || object.kind === 'Deployment')
    return (object as { spec: { template: { spec: IPodSpec } } }).spec.template.spec;
  throw new Error(`no pod spec in a ${String(object.kind)}`);
}

export function allContainers(spec: IPodSpec): IContainer[] {
  return [...(spec.initContainers ?? []), ...spec.containers];
}

export function container(spec: IPodSpec, name: string): IContainer {
  const found = allContainers(spec).find((c) => c.name === name);
  if (found === undefined) throw new Error(`no container ${name}`);
  return found;
}

/** The container's environment as a record (literal values only; valueFrom is not resolved). */
export function envOf(c: IContainer): Record<string, string | undefined> {
  return Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
}

export function mountPath(c: IContainer, volume: string): string | undefined {
  return c.volumeMounts?.find((m) => m.name === volume)?.mountPath;
}

/** The value of `--name=VALUE` / `--name VALUE` in an argument list. */
export function option(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
    if (arg === name) return args[i + 1];
  }
  return undefined;
}

/** A Kubernetes CPU quantity in millicores (`500m`, `2`). */
export function millicores(quantity: string | number): number {
  const text = String(quantity);
  return text.endsWith('m') ? Number(text.slice(0, -1)) : Number(text) * 1000;
}

/** Every container asks for CPU and memory and is limited, no request above its limit. */
export function checkResources(t: Test, containers: readonly IContainer[]): void {
  for (const c of containers) {
    const { requests, limits } = c.resources ?? {};
    for (const resource of ['cpu', 'memory']) {
      const request = requests?.[resource];
      const limit = limits?.[resource];
      t.ok(request !== undefined && limit !== undefined, `${c.name}: ${resource} request and limit`);
      if (request === undefined || limit === undefined) continue;
      const measure = resource === 'cpu' ? millicores : bytes;
      t.ok(measure(request) <= measure(limit), `${c.name}: ${resource} request ${request} <= limit ${limit}`);
    }
  }
}

/** A Kubernetes quantity in bytes (binary and decimal suffixes). */
export function bytes(quantity: string | number): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(quantity));
  if (match === null) throw new Error(`not a byte quantity: ${quantity}`);
  const factors: Record<string, number> = {
    '': 1,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return Number(match[1]) * (factors[match[2] ?? ''] ?? NaN);
}
