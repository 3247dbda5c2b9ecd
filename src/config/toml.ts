/**
 * The TOML configuration: the same model as k8psh.conf (schema in docs/configuration.md).
 * Kept out of the stub's path: only loaded for `*.toml` files.
 */
import toml from 'toml';
import { type ParseOptions, buildConfig, display } from './build.js';
import { ConfigError } from './errors.js';
import type { Config } from './model.js';
import { type RawCommand, type RawConfig, type RawSection, type RawSpec, parseSpec } from './raw.js';
import { scanRefs } from './substitute.js';
import { type Word, splitAtLiteral } from './words.js';

type Table = Record<string, unknown>;
type Path = readonly (string | number)[];

const ROOT_KEYS = ['baseDirectory', 'connectTimeoutMs', 'servers'];
const SERVER_KEYS = ['name', 'port', 'environment', 'options', 'commands'];
const COMMAND_KEYS = ['name', 'environment', 'executable'];

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function typeName(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (isTable(value)) return 'a table';
  return `a ${typeof value}`;
}

/**
 * Where a key (path like servers.1.commands.0.name) is written, for messages only: a line scan
 * that knows `[[servers]]` and `[[servers.commands]]`; falls back to the enclosing table, then 1:1.
 */
function locator(text: string): (path: Path) => [number, number] {
  let index: Map<string, [number, number]> | undefined;
  const build = (): Map<string, [number, number]> => {
    const map = new Map<string, [number, number]>();
    let server = -1;
    let command = -1;
    let prefix: string | undefined = '';
    text.split('\n').forEach((line, i) => {
      const indent = line.length - line.trimStart().length;
      const header = /^\s*\[\[?\s*([A-Za-z0-9_.\s"-]*?)\s*\]/.exec(line);
      if (header) {
        const name = (header[1] ?? '').replace(/[\s"]/g, '');
        if (name === 'servers') [prefix, command] = [`servers.${++server}`, -1];
        else if (name === 'servers.commands') prefix = `servers.${server}.commands.${++command}`;
        else prefix = undefined;
        if (prefix !== undefined && !map.has(prefix)) map.set(prefix, [i + 1, indent + 1]);
        return;
      }
      const key = /^\s*"?([A-Za-z0-9_-]+)"?\s*=/.exec(line);
      if (key && prefix !== undefined) {
        const path = prefix === '' ? (key[1] as string) : `${prefix}.${key[1]}`;
        if (!map.has(path)) map.set(path, [i + 1, indent + 1]);
      }
    });
    return map;
  };
  return (path) => {
    index ??= build();
    for (let n = path.length; n > 0; n--) {
      const found = index.get(path.slice(0, n).join('.'));
      if (found) return found;
    }
    return [1, 1];
  };
}

/** Parses TOML text to the raw configuration. */
export function parseTomlRaw(text: string, file: string): RawConfig {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let data: unknown;
  try {
    data = toml.parse(text);
  } catch (error) {
    // Syntax errors carry line/column, or (from the grammar) location.start.
    const e = error as { message?: unknown; line?: unknown; column?: unknown; location?: { start?: Table } };
    const line = Number(e.line ?? e.location?.start?.line ?? 1) || 1;
    const column = Number(e.column ?? e.location?.start?.column ?? 1) || 1;
    const message = (typeof e.message === 'string' ? e.message : String(error)).replace(/\s+/g, ' ');
    throw new ConfigError(file, line, column, `invalid TOML: ${message}`);
  }

  const locate = locator(text);
  const fail = (path: Path, problem: string): never => {
    const [line, column] = locate(path);
    throw new ConfigError(file, line, column, problem);
  };
  const where = (path: Path): string =>
    path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
      .join('')
      .slice(1);

  const table = (value: unknown, path: Path, keys: string[]): Table => {
    if (!isTable(value)) fail(path, `${where(path)} must be a table, not ${typeName(value)}`);
    const t = value as Table;
    for (const key of Object.keys(t)) {
      if (!keys.includes(key))
        fail([...path, key], `unknown key ${display(key)} in ${where(path) || 'the top level'}`);
    }
    return t;
  };
  const word = (value: unknown, path: Path): Word => {
    if (typeof value !== 'string') fail(path, `${where(path)} must be a string, not ${typeName(value)}`);
    const [line, column] = locate(path);
    return { segs: scanRefs(value as string, true), line, column };
  };
  const list = (value: unknown, path: Path): Word[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value))
      fail(path, `${where(path)} must be an array of strings, not ${typeName(value)}`);
    return (value as unknown[]).map((item, i) => word(item, [...path, i]));
  };
  const specs = (value: unknown, path: Path): RawSpec[] =>
    list(value, path).map((w, i) => {
      const spec = parseSpec(w);
      if (spec === undefined) {
        fail(
          [...path, i],
          `${where([...path, i])} is not an environment spec (NAME=value, ?NAME=value or =NAME=value)`,
        );
      }
      return spec as RawSpec;
    });
  const tables = (value: unknown, path: Path): unknown[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value))
      fail(path, `${where(path)} must be an array of tables, not ${typeName(value)}`);
    return value as unknown[];
  };
  const integerOrWord = (value: unknown, path: Path): Word | number | undefined => {
    if (value === undefined || typeof value === 'string')
      return value === undefined ? undefined : word(value, path);
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      fail(
        path,
        `${where(path)} must be an integer, not ${typeName(value)}${typeof value === 'number' ? ` ${value}` : ''}`,
      );
    }
    return value as number;
  };
  const required = (t: Table, key: string, path: Path): unknown => {
    if (t[key] === undefined) fail(path, `${where(path)} has no ${key}`);
    return t[key];
  };

  const root = table(data, [], ROOT_KEYS);
  const raw: RawConfig = {
    baseDirectory: root.baseDirectory === undefined ? undefined : word(root.baseDirectory, ['baseDirectory']),
    connectTimeoutMs: integerOrWord(root.connectTimeoutMs, ['connectTimeoutMs']),
    sections: [],
  };
  tables(root.servers, ['servers']).forEach((value, s) => {
    const path = ['servers', s];
    const server = table(value, path, SERVER_KEYS);
    const name = word(required(server, 'name', path), [...path, 'name']);
    if (splitAtLiteral(name.segs, ':'))
      fail([...path, 'name'], `${where(path)}.name must not contain ":" (use port)`);
    const section: RawSection = {
      name,
      port: integerOrWord(server.port, [...path, 'port']),
      environment: specs(server.environment, [...path, 'environment']),
      options: list(server.options, [...path, 'options']),
      commands: [],
    };
    tables(server.commands, [...path, 'commands']).forEach((value, c) => {
      const cpath = [...path, 'commands', c];
      const command = table(value, cpath, COMMAND_KEYS);
      const executable = list(command.executable, [...cpath, 'executable']);
      const raw: RawCommand = {
        name: word(required(command, 'name', cpath), [...cpath, 'name']),
        environment: specs(command.environment, [...cpath, 'environment']),
        executable: executable.length > 0 ? executable : undefined,
      };
      section.commands.push(raw);
    });
    raw.sections.push(section);
  });
  return raw;
}

/** Parses TOML configuration text; a relative baseDirectory is resolved against the directory of `file`. */
export function parseToml(text: string, file: string, opts: ParseOptions): Config {
  return buildConfig(parseTomlRaw(text, file), file, opts);
}
