/**
 * Our stdout or stderr as the relaying client writes the command's output to it: the pieces of
 * one socket read leave together (corked, one writev), and the stream is not even created for a
 * command that prints nothing on it.
 */
const EMPTY = Buffer.alloc(0);

export class Output {
  private used = false;
  private corked = false;
  /** Our reader went away (EPIPE): nothing more is written. */
  broken = false;

  /** `stream` is only called on first use; `onError` gets the stream's errors from then on. */
  constructor(
    private readonly stream: () => NodeJS.WriteStream,
    private readonly onError: (error: NodeJS.ErrnoException) => void,
  ) {}

  write(chunk: Buffer): void {
    if (this.broken) return;
    const stream = this.stream();
    if (!this.used) {
      this.used = true;
      stream.on('error', this.onError);
    }
    if (!this.corked) {
      this.corked = true;
      stream.cork();
    }
    stream.write(chunk);
  }

  /** The pieces written since the last uncork leave now. */
  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.stream().uncork();
  }

  /** True, and `release` is called later, while bytes written are still queued. */
  holding(release: () => void): boolean {
    if (!this.used || this.broken || this.stream().writableLength === 0) return false;
    this.stream().write(EMPTY, release);
    return true;
  }

  /** True, and `done` is called once everything written so far has been handed to the system. */
  flushing(done: () => void): boolean {
    if (!this.used) return false;
    this.stream().write(EMPTY, done);
    return true;
  }
}
