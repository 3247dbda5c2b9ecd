/**
 * The remote transport (docs/remote.md): one HTTP/2 session over mutual TLS 1.3 from a gateway (or a
 * TypeScript client) to a server, one stream per k8psh session whose body, both ways, is the very
 * frame sequence a local connection carries.
 */

/** The one path a server answers; any other stream is reset. */
export const SESSION_PATH = '/k8psh/v1/session';

/**
 * A client that confirms the start (docs/remote.md, "Exactly once") asks with this request header;
 * a server that does so echoes it in its response. START_READY and START_GO then frame the start.
 */
export const CONFIRM_HEADER = 'k8psh-start';
export const CONFIRM_VALUE = 'confirm';
/**
 * A server says it confirms before any stream, in its SETTINGS (an identifier no registered setting
 * uses, "k8" in ASCII; a peer ignores what it does not know): a gateway then knows from the first
 * session on whether a session lost before any answer can have run there.
 */
export const CONFIRM_SETTING = 0x6b38;

/**
 * RST_STREAM's REFUSED_STREAM (RFC 9113, section 7): the stream was not processed at all, so the
 * client may send it elsewhere. A draining server refuses with it. Here, not from node:http2, so that
 * what a plain server loads stays without it.
 */
export const REFUSED_STREAM = 0x7;

/** The files of a kubernetes.io/tls Secret as cert-manager writes it. */
export const TLS_FILES = { certificate: 'tls.crt', key: 'tls.key', ca: 'ca.crt' } as const;

/**
 * Flow control (docs/remote.md, "Bulk"): Node's default 64 KiB window held one stream to 178 MiB/s;
 * 8 MiB per stream, 32 MiB per session and 1 MiB frames reached the TLS socket's own throughput.
 * The session window is larger than a few stalled streams may hold, so that one stub that stops
 * reading does not stall the others.
 */
export const STREAM_WINDOW = 8 << 20;
export const SESSION_WINDOW = 32 << 20;
export const MAX_FRAME_SIZE = (1 << 20) - 1;

/** A peer that answers no PING within this long is gone (a cable cut leaves no FIN to see). */
export const PING_INTERVAL_MS = 5000;
export const PING_TIMEOUT_MS = 10000;

/** Opens the GOAWAY debug data of a server that refused the client's certificate; the reason follows. */
export const REFUSED_PREFIX = 'k8psh refused: ';
