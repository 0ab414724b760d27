/**
 * Errors of the PKI library and CLI. Each carries the exit code the CLI uses, and a message
 * shaped `<where>: '<field>' <problem> (got <value>). <fix>` or `<where>: <problem>. <fix>`.
 */

/**
 * Exit code of the `pki` CLI: 1 operational failure, 2 the store is inconsistent (an
 * interrupted rotation, a certificate without its key), 3 usage or configuration error.
 */
export type PkiExitCode = 1 | 2 | 3;

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

/** A wrong option, argument, environment variable or configuration: exit code 3. */
export class UsageError extends PkiError {
  constructor(message: string) {
    super(message, 3);
    this.name = "UsageError";
  }
}

/**
 * An operation that could not be done with valid input (wrong passphrase, refused overwrite,
 * missing or corrupted file, expired CA, a certificate not yet active at Cloudflare): exit code 1.
 */
export class OperationalError extends PkiError {
  constructor(message: string) {
    super(message, 1);
    this.name = "OperationalError";
  }
}

/**
 * The store is not in a state any command leaves it in: an interrupted rotation (its journal is
 * present), a certificate without its key, a file changed behind a rotation's back: exit code 2.
 */
export class InconsistentStoreError extends PkiError {
  constructor(message: string) {
    super(message, 2);
    this.name = "InconsistentStoreError";
  }
}
