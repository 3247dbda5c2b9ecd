/** The loaded configuration: what k8psh.conf or its TOML twin means (docs/configuration.md). */

/** `NAME=v` required, `?NAME=v` optional, `=NAME=v` inherited (server side only). */
export type EnvSpecKind = 'required' | 'optional' | 'inherited';

export interface EnvSpec {
  kind: EnvSpecKind;
  name: string;
  /** After load-time substitution; `${...}` still present here is substituted at run time. */
  value: string;
}

export interface HostConfig {
  name: string;
  port: number;
  /** Section env specs: they precede each command's own specs (already merged into CommandConfig). */
  environment: EnvSpec[];
  /** Section server options (e.g. `--disable-client-executables`), applied before the real command line. */
  serverOptions: string[];
  /**
   * The uid the server runs as, from `--server-uid` among its section options: besides root and
   * their own, the only uid whose listener stubs talk to (docs/security.md, "Whose listener").
   */
  serverUid: number | undefined;
  /**
   * Set when clients reach this section's server on another node (`--remote`, docs/remote.md);
   * absent otherwise, so that an original configuration's model is what it always was.
   */
  remote?: RemoteSection;
}

/** Where and how a remote section's server is reached (src/config/remote-options.ts). */
export interface RemoteSection {
  host: string;
  port: number;
  /** Absolute: tls.crt, tls.key and ca.crt, as a kubernetes.io/tls Secret is mounted. */
  tlsDirectory: string;
  /** The name the server's certificate must carry. */
  serverName: string;
}

/** The section option naming the uid a server runs as (HostConfig.serverUid). */
export const SERVER_UID_OPTION = '--server-uid';
/** The largest uid: (uid_t)-1 is no uid. */
export const MAX_UID = 2 ** 32 - 2;

export interface CommandConfig {
  name: string;
  /** Name of the host (server) that runs it; `Config.hosts.get(host)` gives its port. */
  host: string;
  /** Section specs first, then the command's own, in file order. */
  environment: EnvSpec[];
  /** Executable and fixed arguments; `[name]` when the line names no executable. */
  argv: string[];
}

export interface Config {
  /** The file it was loaded from, as given (used in messages). */
  file: string;
  /** Absolute and normalised. */
  baseDirectory: string;
  /** Negative: retry forever. */
  connectTimeoutMs: number;
  /** Only hosts with at least one command; insertion order = file order. */
  hosts: Map<string, HostConfig>;
  /** Keyed by command name; the last definition wins. */
  commands: Map<string, CommandConfig>;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 30000;
export const DEFAULT_FIRST_PORT = 1120;
