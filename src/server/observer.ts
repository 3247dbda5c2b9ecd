/**
 * What a server tells its metrics (./metrics.ts, `--metrics`) about its sessions. Sessions call it
 * only when metrics are on: without `--metrics` there is no observer, and prom-client is not loaded.
 * Labels are small fixed sets: a Prometheus series per free-text message would grow without bound.
 */

/** How a session reached the server. */
export type Transport = 'local' | 'tcp' | 'tls';

/** How it ended: the command exited or was killed by a signal, was never run, or its client left first. */
export type Outcome = 'exited' | 'signalled' | 'refused' | 'client-gone';

export type RefusalReason =
  | 'busy'
  | 'descriptors'
  | 'shutting-down'
  /** Sent elsewhere: a draining server's session not yet accepted (RST_STREAM REFUSED_STREAM). */
  | 'draining'
  | 'identity'
  | 'not-found'
  | 'not-executable'
  | 'working-directory'
  | 'protocol'
  | 'timeout'
  | 'plaintext';

export interface SessionObserver {
  /** A session of this transport started: START_COMMAND, or START_GO for a client that confirms. */
  started(transport: Transport): void;
  /** A session that had started is over. */
  finished(outcome: Outcome, seconds: number): void;
  /** Bytes relayed: the client's stdin to the command, the command's stdout and stderr to the client. */
  relayed(stream: 'stdin' | 'stdout' | 'stderr', bytes: number): void;
  refused(reason: RefusalReason): void;
  /** A TLS client that did not get through the handshake, or whose certificate was refused. */
  tlsFailure(reason: 'handshake' | 'certificate'): void;
}
