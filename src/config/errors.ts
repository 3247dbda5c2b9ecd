/** A malformed configuration: always located, always one line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}:${column}: ${problem}`);
  }
}

/** The configuration file itself cannot be read (missing, a directory, no permission...). */
export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
  /** The system error code (`ENOENT`...), when there is one. */
  readonly code: string | undefined;
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    const code = (cause as { code?: unknown } | null)?.code;
    const reason = cause instanceof Error ? cause.message.split(/[,\n]/)[0] : String(cause);
    super(`cannot read configuration file ${file}: ${reason}`, { cause });
    this.code = typeof code === 'string' ? code : undefined;
  }
}

/**
 * The configuration file, or the directory of ./k8psh.conf, may be written by someone other than
 * the caller and root (src/config/trust.ts): refused before a byte of it is used.
 */
export class UntrustedConfigError extends Error {
  override readonly name = 'UntrustedConfigError';
  constructor(
    /** The file as the message names it. */
    readonly file: string,
    /** What is wrong and the fix (trust.ts fileReason, directoryReason). */
    readonly reason: string,
  ) {
    super(`refusing the configuration ${file}: ${reason}`);
  }
}
