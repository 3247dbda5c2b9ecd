/**
 * Who a peer is, from its verified certificate: the subject's CN and the subjectAltName entries.
 * The identity is logged with every session line; `--allow-identity` matches any one of its names.
 */
import type { PeerCertificate } from 'node:tls';

export interface PeerIdentity {
  /** For logs: `CN=build, DNS:build.ci`. */
  text: string;
  /** What `--allow-identity` may name: the CN, and each SAN value with and without its `DNS:` prefix. */
  names: string[];
}

export function peerIdentity(certificate: PeerCertificate | null | undefined): PeerIdentity {
  if (!certificate || Object.keys(certificate).length === 0) return { text: 'no certificate', names: [] };
  const names: string[] = [];
  const parts: string[] = [];
  const cn = certificate.subject?.CN;
  for (const value of Array.isArray(cn) ? cn : cn ? [cn] : []) {
    names.push(value);
    parts.push(`CN=${value}`);
  }
  for (const entry of splitAltNames(certificate.subjectaltname ?? '')) {
    parts.push(entry);
    names.push(entry);
    const colon = entry.indexOf(':');
    if (colon > 0) names.push(entry.slice(colon + 1));
  }
  return { text: parts.join(', ') || 'empty subject', names };
}

/** `DNS:a, URI:b` — Node quotes an entry holding a comma with JSON string syntax. */
function splitAltNames(text: string): string[] {
  const entries: string[] = [];
  const pattern = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/gy;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(text)) !== null && match[0] !== '') {
    const value = match[2]!.startsWith('"') ? (JSON.parse(match[2]!) as string) : match[2]!;
    entries.push(`${match[1]!}:${value}`);
  }
  return entries;
}

/** Null when allowed (no list allows every certificate the CA signed), else the one-line reason. */
export function identityRefusal(
  identity: PeerIdentity,
  allowed: readonly string[],
  server: string,
): string | null {
  if (allowed.length === 0 || identity.names.some((name) => allowed.includes(name))) return null;
  return `server ${server} does not serve the identity ${identity.text} (--allow-identity)`;
}
