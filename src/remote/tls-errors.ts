/** A failed TLS connection said in one line a user can act on (docs/remote.md, "When it fails"). */
import { REFUSED_PREFIX } from './constants.js';

const ALERTS: [RegExp, string][] = [
  [/alert certificate required/i, 'the server requires a client certificate'],
  [/alert certificate expired/i, 'the server refused our client certificate: it has expired'],
  [
    /alert (unknown ca|bad certificate|decrypt error|certificate unknown)/i,
    'the server refused our client certificate (not signed by its CA)',
  ],
  [/alert certificate revoked/i, 'the server refused our client certificate: it is revoked'],
  [
    /wrong version number|packet length too long|record layer failure/i,
    'the server does not speak TLS on this port',
  ],
  [/alert protocol version/i, 'the server does not speak TLS 1.3'],
];

const CODES: Record<string, string> = {
  CERT_HAS_EXPIRED: "the server's certificate has expired",
  CERT_NOT_YET_VALID: "the server's certificate is not valid yet",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server's certificate is not signed by our CA (self-signed)",
  SELF_SIGNED_CERT_IN_CHAIN: "the server's certificate is not signed by our CA",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's certificate is not signed by our CA",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the server's certificate is not signed by our CA",
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the name cannot be resolved now',
};

export function describeTlsError(error: NodeJS.ErrnoException): string {
  if (error.code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `the server's certificate does not carry the name it was reached by (${error.message.replace(/^.*?: /, '')})`;
  const known = error.code ? CODES[error.code] : undefined;
  if (known) return known;
  for (const [pattern, text] of ALERTS) if (pattern.test(error.message)) return text;
  return error.message.split('\n')[0]!;
}

/** The reason in a refusing server's GOAWAY (src/server/tls-listener.ts), if that is what it is. */
export function refusalIn(data: Buffer | undefined): string | null {
  const text = data?.toString('utf8') ?? '';
  return text.startsWith(REFUSED_PREFIX)
    ? `the server refused us: ${text.slice(REFUSED_PREFIX.length)}`
    : null;
}
