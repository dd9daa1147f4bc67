/**
 * Errors of the image library. Each has a stable `code` so callers (the agent, which turns them
 * into container status reasons such as ErrImagePull) need not match on messages.
 */
export type OciErrorCode =
  | 'NotFound'
  | 'Unauthorized'
  | 'DigestMismatch'
  | 'SizeMismatch'
  | 'Unsupported'
  | 'UnsafeLayer'
  | 'InvalidManifest'
  | 'InvalidLayer'
  | 'NoMatchingPlatform'
  | 'Registry'
  | 'Network';

export class OciError extends Error {
  constructor(
    readonly code: OciErrorCode,
    message: string,
    /** True when trying again later may succeed (5xx, broken connection). */
    readonly retryable = false,
  ) {
    super(message);
    this.name = `OciError(${code})`;
  }
}

export class NotFoundError extends OciError {
  constructor(message: string) {
    super('NotFound', message);
  }
}

export class UnauthorizedError extends OciError {
  constructor(message: string) {
    super('Unauthorized', message);
  }
}

export class DigestMismatchError extends OciError {
  constructor(
    readonly expected: string,
    readonly actual: string,
    what = 'content',
  ) {
    super('DigestMismatch', `${what} digest mismatch: expected ${expected}, got ${actual}`);
  }
}

export class SizeMismatchError extends OciError {
  constructor(
    readonly expected: number,
    readonly actual: number,
    what = 'content',
  ) {
    super('SizeMismatch', `${what} size mismatch: expected ${expected} bytes, got ${actual}`);
  }
}

export class UnsupportedError extends OciError {
  constructor(message: string) {
    super('Unsupported', message);
  }
}

export class UnsafeLayerError extends OciError {
  constructor(message: string) {
    super('UnsafeLayer', message);
  }
}

export class InvalidManifestError extends OciError {
  constructor(message: string) {
    super('InvalidManifest', message);
  }
}

export class RegistryError extends OciError {
  constructor(
    message: string,
    readonly status?: number,
    retryable = false,
  ) {
    super(status === undefined ? 'Network' : 'Registry', message, retryable);
  }
}

export function isOciError(e: unknown, code?: OciErrorCode): e is OciError {
  return e instanceof OciError && (code === undefined || e.code === code);
}
