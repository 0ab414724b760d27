/**
 * Errors of the PKI library and CLI. Each carries the exit code the CLI uses, and a message
 * shaped `<where>: '<field>' <problem> (got <value>). <fix>` or `<where>: <problem>. <fix>`.
 */

/** Exit code of the `pki` CLI: 1 operational failure, 2 usage or configuration error. */
export type PkiExitCode = 1 | 2;

/** A failure the CLI reports as one message line (no stack trace) with its exit code. */
export class PkiError extends Error {
  /** The CLI exit code for this failure. */
  readonly exitCode: PkiExitCode;

  constructor(message: string, exitCode: PkiExitCode) {
    super(message);
    this.name = "PkiError";
    this.exitCode = exitCode;
  }
}

/** A wrong option, argument, environment variable or configuration: exit code 2. */
export class UsageError extends PkiError {
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}

/**
 * An operation that could not be done with valid input (wrong passphrase, refused overwrite,
 * missing or corrupted file, expired CA): exit code 1.
 */
export class OperationalError extends PkiError {
  constructor(message: string) {
    super(message, 1);
    this.name = "OperationalError";
  }
}
