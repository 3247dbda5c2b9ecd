/**
 * The client's signals go to the remote process group (docs/session.md, "Signals and endings"), for both clients (./direct.ts,
 * ./remote.ts): each says how a signal is sent on its connection.
 */
import { clientDebug } from '../debug.js';
import { FORWARDED_SIGNALS } from '../signals.js';

export class SignalForwarder {
  private readonly handlers = new Map<NodeJS.Signals, () => void>();
  /**
   * The first signal forwarded. The original server closes without an exit code when the command
   * dies by it: the client then reports that signal.
   */
  first: NodeJS.Signals | null = null;

  /** `notices`: signals also forwarded that end nothing (SIGWINCH of a passed terminal). */
  constructor(
    private readonly send: (signal: NodeJS.Signals) => void,
    private readonly notices: readonly NodeJS.Signals[] = [],
  ) {}

  start(): void {
    for (const signal of [...FORWARDED_SIGNALS, ...this.notices]) {
      const ends = !this.notices.includes(signal);
      const handler = (): void => {
        clientDebug('Process', `forwarding ${signal}`);
        if (ends) this.first ??= signal;
        this.send(signal);
      };
      this.handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  stop(): void {
    for (const [signal, handler] of this.handlers) process.off(signal, handler);
    this.handlers.clear();
  }
}
