/**
 * A gateway's way to one remote section (docs/cluster.md): every address its --remote name resolves
 * to is a replica with a connection of its own (./replica.ts), and each session goes to the usable
 * replica running the fewest of our sessions. A Kubernetes ClusterIP Service spreads connections, not
 * sessions: named by a headless Service, the name lists every ready replica, and readiness takes a
 * draining one out. The name is resolved again every RESOLVE_INTERVAL_MS and soon after a failure:
 * new replicas are used within seconds, vanished ones finish their sessions and are dropped.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ClientHttp2Stream } from 'node:http2';
import type { Logger } from 'pino';
import { formatHostPort } from '../../config/address.js';
import type { RemoteSection } from '../../config/model.js';
import { loadTlsMaterial, watchTlsMaterial, type TlsMaterial } from '../../remote/material.js';
import { describeTlsError } from '../../remote/tls-errors.js';
import { Replica } from './replica.js';

const RESOLVE_INTERVAL_MS = 2000;
/** After a failure, the name is looked at again this soon (at most this often). */
const RESOLVE_AFTER_FAILURE_MS = 250;

export interface Placed {
  stream: ClientHttp2Stream;
  replica: Replica;
}

export class Upstream {
  private readonly replicas = new Map<string, Replica>();
  private material: TlsMaterial | null = null;
  /** Why the name itself gave no address, when it did not. */
  private resolveError: string | null = null;
  private resolving = false;
  /** A look was asked for while one was under way. */
  private resolveAgain = false;
  private resolveTimer: NodeJS.Timeout | null = null;
  /** When resolveTimer fires. */
  private resolveDue = 0;
  private lastResolve = 0;
  private waiters: (() => void)[] = [];
  /** Ties go round: sessions one after another spread too. */
  private turn = 0;
  private stopWatching: (() => void) | null = null;
  private closed = false;
  readonly where: string;

  constructor(
    private readonly name: string,
    private readonly remote: RemoteSection,
    private readonly log: Logger,
    /** How long a session waits for a replica before it is refused (the config's connectTimeoutMs). */
    private readonly connectTimeoutMs: number,
  ) {
    this.where = formatHostPort(remote);
  }

  /** Resolves and connects now; the material is read first, so a missing file is an error at start (exit 1). */
  start(): void {
    this.material = loadTlsMaterial(this.remote.tlsDirectory);
    this.stopWatching = watchTlsMaterial(
      this.remote.tlsDirectory,
      this.material,
      (material) => {
        this.material = material;
        this.log.info(
          { server: this.name, directory: this.remote.tlsDirectory },
          'TLS material changed: reconnecting',
        );
        for (const replica of this.replicas.values()) replica.rotate(material);
      },
      (message) => this.log.warn({ server: this.name, problem: message }, 'TLS material not reloaded'),
    );
    void this.resolve();
  }

  close(): void {
    this.closed = true;
    this.stopWatching?.();
    if (this.resolveTimer) clearTimeout(this.resolveTimer);
    for (const replica of this.replicas.values()) replica.close();
    this.replicas.clear();
    this.wake();
  }

  /**
   * A stream on the least busy usable replica, preferring those not in `avoid` (where this session
   * was already refused or lost); or the one-line reason there is none (the stub exits 255).
   */
  async open(avoid: ReadonlySet<Replica> = new Set()): Promise<Placed | string> {
    const deadline = this.connectTimeoutMs < 0 ? Infinity : Date.now() + this.connectTimeoutMs;
    /** Replicas whose connection would not take a stream just now: not asked again by this call. */
    const refusing = new Set<Replica>();
    for (;;) {
      const replica = this.pick(avoid, refusing);
      if (replica) {
        try {
          return { stream: replica.open(), replica };
        } catch (error) {
          // Closing under us (a GOAWAY being processed): another replica, or the wait below.
          replica.lastError = (error as Error).message;
          refusing.add(replica);
          continue;
        }
      }
      const fatal = this.fatal();
      if (fatal !== null || this.closed) return this.reason(fatal);
      for (const waiting of this.replicas.values()) waiting.hurry();
      const left = deadline - Date.now();
      if (left <= 0) return this.reason(null);
      await this.changed(left);
      // Something changed (a connection made or lost): every replica may be asked again.
      refusing.clear();
    }
  }

  private pick(avoid: ReadonlySet<Replica>, refusing: ReadonlySet<Replica>): Replica | null {
    const list = [...this.replicas.values()];
    // Ties go round, from a start that moves with every pick.
    const start = this.turn++;
    for (const preferNew of [true, false]) {
      let best: Replica | null = null;
      for (let i = 0; i < list.length; i++) {
        const replica = list[(start + i) % list.length]!;
        if (!replica.usable || refusing.has(replica) || (preferNew && avoid.has(replica))) continue;
        if (best === null || replica.running < best.running) best = replica;
      }
      if (best) return best;
    }
    return null;
  }

  /** Every replica failed for a reason waiting will not cure: say it now. */
  private fatal(): string | null {
    if (this.replicas.size === 0) return null;
    let fatal: string | null = null;
    for (const replica of this.replicas.values()) {
      if (replica.fatal === null) return null;
      fatal = replica.fatal;
    }
    return fatal;
  }

  private reason(fatal: string | null): string {
    let problem = fatal ?? this.resolveError;
    if (problem === null) {
      const errors = [...this.replicas.values()].map((replica) => replica.lastError);
      problem = errors.length === 0 ? 'no address yet' : errors[errors.length - 1]!;
    }
    return `cannot reach server ${this.name} at ${this.where}: ${problem}`;
  }

  /** Resolves when a replica connects or goes, or after `ms`. */
  private changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  private readonly events = {
    changed: () => this.wake(),
    failed: () => {
      this.wake();
      this.resolveSoon(RESOLVE_AFTER_FAILURE_MS);
    },
  };

  private resolveSoon(ms: number): void {
    if (this.closed || isIP(this.remote.host)) return;
    const at = Math.max(this.lastResolve + ms, Date.now());
    if (this.resolveTimer) {
      if (this.resolveDue <= at) return;
      clearTimeout(this.resolveTimer);
    }
    this.resolveDue = at;
    this.resolveTimer = setTimeout(() => void this.resolve(), at - Date.now());
    this.resolveTimer.unref();
  }

  /** The name's addresses now: new ones are connected, vanished ones dropped once their sessions end. */
  private async resolve(): Promise<void> {
    // The timer that called this has fired: a later resolveSoon() must be able to set another.
    this.resolveTimer = null;
    if (this.closed) return;
    if (this.resolving) {
      // A failure while a lookup is under way: look again once it is done (its answer may predate it).
      this.resolveAgain = true;
      return;
    }
    this.resolving = true;
    this.resolveAgain = false;
    this.lastResolve = Date.now();
    const { host } = this.remote;
    let addresses: string[] | null = null;
    try {
      addresses = isIP(host)
        ? [host]
        : [...new Set((await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address))];
      this.resolveError = null;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.resolveError = `cannot resolve ${host}: ${describeTlsError(error as NodeJS.ErrnoException)}`;
      // No such name: no replica is ready (a headless Service without endpoints). A failing lookup
      // is a blip: the replicas known stay.
      if (code === 'ENOTFOUND' || code === 'ENODATA') addresses = [];
      this.log.warn({ server: this.name, host, problem: this.resolveError }, 'name not resolved');
    }
    this.resolving = false;
    if (this.closed) return;
    if (addresses) this.update(addresses);
    this.resolveSoon(this.resolveAgain ? RESOLVE_AFTER_FAILURE_MS : RESOLVE_INTERVAL_MS);
  }

  private update(addresses: string[]): void {
    const wanted = new Set(addresses);
    for (const [address, replica] of this.replicas)
      if (!wanted.has(address)) {
        this.log.info({ server: this.name, at: replica.where }, 'replica gone from the name: dropped');
        replica.close();
        this.replicas.delete(address);
      }
    for (const address of addresses) {
      if (this.replicas.has(address)) continue;
      const replica = new Replica(address, this.remote, this.material!, this.events, this.log);
      this.replicas.set(address, replica);
      if (this.replicas.size > 1 || addresses.length > 1)
        this.log.info({ server: this.name, at: replica.where }, 'replica found');
      replica.connect();
    }
    this.wake();
  }
}
