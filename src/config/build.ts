/** Builds the model from a raw configuration: load-time substitution, ports, hosts, last-wins. */
import path from 'node:path';
import { ConfigError } from './errors.js';
import {
  type CommandConfig,
  type Config,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_FIRST_PORT,
  type EnvSpec,
  type HostConfig,
  MAX_UID,
  SERVER_UID_OPTION,
} from './model.js';
import type { RawConfig, RawSpec } from './raw.js';
import { remoteSection } from './remote-options.js';
import { optionValues } from './section-options.js';
import { type Segment, lookupIn, resolveSegments } from './substitute.js';
import type { Word } from './words.js';

export interface ParseOptions {
  /** The environment seen by load-time substitution. */
  env: Readonly<Record<string, string | undefined>>;
  /** Receives warnings (an unset variable without default); never written to stderr here. */
  warn?: (message: string) => void;
}

/** setTimeout's limit: a larger deadline would fire at once. */
const MAX_TIMEOUT_MS = 2147483647;

/** Shows user text inside a one-line message. */
export function display(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

function isDigits(text: string): boolean {
  if (text === '') return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * The last `--server-uid UID` (or `=UID`) of a section's options: read by every client, which loads
 * no option parser (the server's yargs checks the same option again); a message when malformed.
 */
function serverUid(options: readonly string[]): number | undefined | string {
  let uid: number | undefined;
  for (const { value } of optionValues(options, [SERVER_UID_OPTION])) {
    if (value === null || !isDigits(value) || Number(value) > MAX_UID)
      return `${SERVER_UID_OPTION} must be a uid from 0 to ${MAX_UID}, not ${value === null ? 'nothing' : display(value)}`;
    uid = Number(value);
  }
  return uid;
}

export function buildConfig(raw: RawConfig, file: string, opts: ParseOptions): Config {
  const lookup = lookupIn(opts.env);
  const { warn } = opts;

  const fail = (at: Word, problem: string): never => {
    throw new ConfigError(file, at.line, at.column, problem);
  };
  const resolveAt = (segs: readonly Segment[], at: Word): string =>
    resolveSegments(
      segs,
      lookup,
      warn &&
        ((name) =>
          warn(
            `${file}:${at.line}:${at.column}: environment variable ${display(name)} is not set, substituting an empty string`,
          )),
    );
  const resolve = (word: Word): string => resolveAt(word.segs, word);
  const spec = (raw: RawSpec): EnvSpec => {
    const name = resolveAt(raw.name, raw.word);
    if (name === '' || name.includes('='))
      fail(raw.word, `invalid environment variable name ${display(name)}`);
    return { kind: raw.kind, name, value: resolveAt(raw.value, raw.word) };
  };

  const configDirectory = path.dirname(path.resolve(file));
  let baseDirectory = configDirectory;
  if (raw.baseDirectory !== undefined) {
    const value = resolve(raw.baseDirectory);
    if (value !== '') baseDirectory = path.resolve(configDirectory, value);
  }

  let connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS;
  const timeout = raw.connectTimeoutMs;
  if (typeof timeout === 'number') connectTimeoutMs = timeout;
  else if (timeout !== undefined) {
    const text = resolve(timeout);
    const sign = text.startsWith('-') || text.startsWith('+') ? 1 : 0;
    if (!isDigits(text.slice(sign)))
      fail(timeout, `connectTimeoutMs must be an integer, not ${display(text)}`);
    connectTimeoutMs = Number(text);
    if (Math.abs(connectTimeoutMs) > MAX_TIMEOUT_MS) {
      fail(timeout, `connectTimeoutMs ${text} is out of range (at most ${MAX_TIMEOUT_MS})`);
    }
    if (Object.is(connectTimeoutMs, -0)) connectTimeoutMs = 0;
  }

  const hosts = new Map<string, HostConfig>();
  const commands = new Map<string, CommandConfig>();
  let nextPort = DEFAULT_FIRST_PORT;
  for (const section of raw.sections) {
    const hostName = resolve(section.name);
    if (hostName === '') fail(section.name, 'empty host name in section header');

    let port: number;
    if (section.port === undefined) {
      port = nextPort;
      if (port > 65535) fail(section.name, `port ${port} (previous port + 1) is out of range`);
    } else if (typeof section.port === 'number') {
      port = section.port;
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        fail(section.name, `port ${port} is out of range (1-65535)`);
      }
    } else {
      const text = resolve(section.port);
      if (!isDigits(text)) fail(section.port, `invalid port ${display(text)}: digits expected`);
      port = Number(text);
      if (port < 1 || port > 65535) fail(section.port, `port ${text} is out of range (1-65535)`);
    }
    nextPort = port + 1;

    // A section without commands does not exist: its specs and options are not even read.
    if (section.commands.length === 0) continue;
    const environment = section.environment.map(spec);
    const serverOptions = section.options.map(resolve);
    let host = hosts.get(hostName);
    if (host === undefined) {
      host = {
        name: hostName,
        port,
        environment: [],
        serverOptions: [],
        serverUid: undefined,
      };
      hosts.set(hostName, host);
    } else if (host.port !== port && section.port !== undefined) {
      warn?.(
        `${file}:${section.name.line}:${section.name.column}: host ${display(hostName)} already uses port ${host.port}, port ${port} is ignored`,
      );
    }
    host.environment.push(...environment);
    host.serverOptions.push(...serverOptions);
    const uid = serverUid(serverOptions);
    if (typeof uid === 'string') return fail(section.name, uid);
    host.serverUid = uid ?? host.serverUid;
    const remote = remoteSection(host.serverOptions, host.port, configDirectory);
    if (typeof remote === 'string') return fail(section.name, remote);
    if (remote) host.remote = remote;

    for (const command of section.commands) {
      const name = resolve(command.name);
      if (name === '') fail(command.name, 'empty command name');
      const own = command.environment.map(spec);
      const argv = command.executable === undefined ? [name] : command.executable.map(resolve);
      commands.delete(name); // the last definition wins, and takes its place in file order
      commands.set(name, {
        name,
        host: hostName,
        environment: [...environment.map((e) => ({ ...e })), ...own],
        argv,
      });
    }
  }

  // A host whose every command was redefined on another host has no command left.
  const used = new Set<string>();
  for (const command of commands.values()) used.add(command.host);
  for (const name of hosts.keys()) if (!used.has(name)) hosts.delete(name);

  return { file, baseDirectory, connectTimeoutMs, hosts, commands };
}
