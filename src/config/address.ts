/**
 * `HOST`, `HOST:PORT`, `[IPv6]` and `[IPv6]:PORT`, as `--remote` and `--listen` take them (docs/remote.md).
 * Pure: a message instead of a throw, so each caller says where the text came from.
 */

export interface HostPort {
  host: string;
  port: number;
}

/**
 * 4, 6 or 0 as node:net's isIP, without loading node:net on a stub's path (the configuration is
 * parsed by every stub call): dotted quads by hand, IPv6 by the URL parser (a global).
 */
export function isIP(text: string): 0 | 4 | 6 {
  if (/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(text)) return 4;
  if (!text.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(text)) return 0;
  try {
    new URL(`http://[${text}]/`);
    return 6;
  } catch {
    return 0;
  }
}

/** The address, or why not; `defaultPort` when the text names none. */
export function parseHostPort(text: string, defaultPort: number): HostPort | string {
  let host = text;
  let port = defaultPort;
  const bracket = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracket) {
    host = bracket[1]!;
    if (isIP(host) !== 6) return `${JSON.stringify(text)}: only an IPv6 address goes in brackets`;
    if (bracket[2] !== undefined) {
      const parsed = parsePort(bracket[2]);
      if (parsed === null) return `${JSON.stringify(text)}: invalid port ${JSON.stringify(bracket[2])}`;
      port = parsed;
    }
    return { host, port };
  }
  // An IPv6 address without brackets has no port: its colons are its own.
  if (isIP(text) === 6) return { host, port };
  const colon = text.lastIndexOf(':');
  if (colon >= 0) {
    host = text.slice(0, colon);
    const parsed = parsePort(text.slice(colon + 1));
    if (parsed === null)
      return `${JSON.stringify(text)}: invalid port ${JSON.stringify(text.slice(colon + 1))}`;
    port = parsed;
  }
  if (host === '' || !/^[A-Za-z0-9._-]+$/.test(host)) return `${JSON.stringify(text)}: invalid host`;
  return { host, port };
}

function parsePort(text: string): number | null {
  if (!/^[0-9]{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

/** 127.0.0.0/8 and ::1 (and ::ffff:127.x): the Pod's own loopback, where the plain protocol stays. */
export function isLoopback(host: string): boolean {
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./i.test(host);
  return host === 'localhost';
}

/** `host:port`, brackets around an IPv6 address. */
export function formatHostPort({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
