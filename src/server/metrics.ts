/**
 * `--metrics ADDRESS:PORT` (docs/observability.md): the server's sessions in Prometheus's text format
 * (prom-client) on /metrics, and the probes Kubernetes asks: /livez (the process answers) and
 * /readyz (it accepts sessions: not before it listens, not once it drains). Loaded only with the
 * option.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { formatHostPort, type HostPort } from '../config/address.js';
import { listenAt } from './listen-at.js';
import type { Outcome, RefusalReason, SessionObserver, Transport } from './observer.js';

export class ServerMetrics implements SessionObserver {
  readonly registry = new Registry();
  private readonly sessionsStarted = new Counter({
    name: 'k8psh_sessions_started_total',
    help: 'Sessions started (at START_COMMAND; at START_GO for a client that confirms), by transport.',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  private readonly sessionsFinished = new Counter({
    name: 'k8psh_sessions_finished_total',
    help: 'Sessions over, by outcome (exited, signalled, refused, client-gone).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly running = new Gauge({
    name: 'k8psh_sessions_running',
    help: 'Sessions started and not yet over.',
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'k8psh_session_duration_seconds',
    help: 'From the start (START_COMMAND, or START_GO) to the end of the session, by outcome.',
    labelNames: ['outcome'] as const,
    // A compiler call is tens of milliseconds to minutes.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
    registers: [this.registry],
  });
  private readonly bytes = new Counter({
    name: 'k8psh_relayed_bytes_total',
    help: 'Bytes relayed: stdin to commands, their stdout and stderr to clients (passed descriptors relay none).',
    labelNames: ['stream'] as const,
    registers: [this.registry],
  });
  private readonly refusals = new Counter({
    name: 'k8psh_refusals_total',
    help: 'Connections, streams and requests refused, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly tlsFailures = new Counter({
    name: 'k8psh_tls_failures_total',
    help: 'TLS clients that failed the handshake or whose certificate was refused.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private http: HttpServer | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'k8psh_' });
  }

  started(transport: Transport): void {
    this.sessionsStarted.inc({ transport });
    this.running.inc();
  }

  finished(outcome: Outcome, seconds: number): void {
    this.sessionsFinished.inc({ outcome });
    this.duration.observe({ outcome }, seconds);
    this.running.dec();
  }

  relayed(stream: 'stdin' | 'stdout' | 'stderr', bytes: number): void {
    this.bytes.inc({ stream }, bytes);
  }

  refused(reason: RefusalReason): void {
    this.refusals.inc({ reason });
  }

  tlsFailure(reason: 'handshake' | 'certificate'): void {
    this.tlsFailures.inc({ reason });
  }

  /** Serves /metrics, /livez and /readyz; `ready` says whether sessions are accepted now. */
  async listen(at: HostPort, ready: () => boolean): Promise<void> {
    const http = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/livez')
        return void response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      if (path === '/readyz') {
        const yes = ready();
        return void response
          .writeHead(yes ? 200 : 503, { 'content-type': 'text/plain' })
          .end(yes ? 'ok\n' : 'not ready\n');
      }
      if (path !== '/metrics') return void response.writeHead(404).end();
      this.registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        () => response.writeHead(500).end(),
      );
    });
    await listenAt(http, at, {
      inUse: `--metrics ${formatHostPort(at)} is already in use`,
      failed: (where, message) => `cannot listen on ${where} for --metrics: ${message}`,
      onError: () => {},
    });
    this.http = http;
  }

  close(): void {
    this.http?.close();
  }
}
