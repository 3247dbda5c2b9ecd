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
