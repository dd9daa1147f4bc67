import { ApiError, ManifestError } from '@berth/api';
import { ConfigError, ConnectionError, RequestTimeoutError, isCertificateProblem } from '@berth/client';

/** berthctl's exit codes (also listed in `berthctl --help`). */
export const EXIT = {
  OK: 0,
  /** the server failed, could not be reached, or anything else went wrong */
  FAILURE: 1,
  /** unknown command or flag, missing argument, bad -o */
  USAGE: 2,
  /** the object (or context) does not exist */
  NOT_FOUND: 3,
  /** the object already exists or changed meanwhile */
  CONFLICT: 4,
  /** a manifest or value was rejected as invalid */
  INVALID: 5,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  server failure, server unreachable, or another error
  2  usage error (unknown command or flag, missing argument, unknown output format)
  3  not found
  4  conflict (already exists, or changed meanwhile)
  5  invalid input (manifest or field rejected)`;

/** An error the CLI reports as `error: <message>` with a hint of what to do next. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILURE,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.USAGE, hint);
  }
}

export function exitCodeFor(e: unknown): number {
  if (e instanceof CliError) return e.exitCode;
  if (e instanceof ManifestError) return EXIT.INVALID;
  if (e instanceof ApiError) {
    if (e.code === 404) return EXIT.NOT_FOUND;
    if (e.code === 409) return EXIT.CONFLICT;
    if (e.code === 422 || e.code === 400 || e.code === 413) return EXIT.INVALID;
    return EXIT.FAILURE;
  }
  return EXIT.FAILURE;
}

/** The hint printed after an error: what to do next. */
export function hintFor(e: unknown): string | undefined {
  if (e instanceof CliError) return e.hint;
  if (e instanceof ApiError) {
    switch (e.code) {
      case 401:
        return 'check the token: --token, BERTH_TOKEN, or the context (`berthctl config view`)';
      case 403:
        return 'the token is not allowed to do this';
      case 404:
        return 'check the name, kind and namespace (`berthctl get KIND -n NAMESPACE` lists what exists)';
      case 409:
        return e.reason === 'AlreadyExists'
          ? 'use `berthctl apply` to update an existing object'
          : 'the object changed meanwhile: read it again and retry';
      case 413:
        return 'the object is too large for the server';
      case 422:
        return 'fix the fields named above and try again';
      default:
        return e.code >= 500 ? 'the server failed: see its log, then retry' : undefined;
    }
  }
  if (e instanceof RequestTimeoutError) return undefined;
  if (e instanceof ConnectionError && isCertificateProblem(e.causeCode))
    return (
      'pass the CA with --certificate-authority FILE or BERTH_CA_FILE, or set it in the context ' +
      '(`berthctl config set-context NAME --certificate-authority FILE`); `berthctl up` writes DATA_DIR/pki/ca.crt'
    );
  if (e instanceof ConnectionError) return undefined;
  if (e instanceof ConfigError) return 'fix the config file or pass --server';
  return undefined;
}

export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
