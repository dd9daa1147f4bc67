/**
 * API errors as Kubernetes `Status` objects. Every layer (validation, store, HTTP) throws ApiError;
 * the HTTP layer serialises `toStatus()` with `code` as the HTTP status.
 */
export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'UnsupportedMediaType'
  | 'RequestEntityTooLarge'
  | 'NotAcceptable'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout'
  | 'Expired';

export interface StatusCause {
  /** e.g. FieldValueInvalid, FieldValueRequired, FieldValueNotSupported, FieldValueDuplicate, FieldValueTypeInvalid */
  reason?: string;
  message: string;
  /** JSON-ish field path, e.g. spec.containers[0].image */
  field?: string;
}

export interface Status {
  apiVersion: 'v1';
  kind: 'Status';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason?: StatusReason;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
  code: number;
}

const CODES: Record<StatusReason, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Gone: 410,
  Expired: 410,
  Invalid: 422,
  MethodNotAllowed: 405,
  UnsupportedMediaType: 415,
  RequestEntityTooLarge: 413,
  NotAcceptable: 406,
  TooManyRequests: 429,
  InternalError: 500,
  ServiceUnavailable: 503,
  Timeout: 504,
};

const GENERIC_REASONS = (Object.keys(CODES) as StatusReason[]).filter(
  (r) => r !== 'AlreadyExists' && r !== 'Expired',
);

/** The generic reason of an HTTP status (409 → Conflict, 410 → Gone); undefined for codes no reason names. */
export function reasonForCode(code: number): StatusReason | undefined {
  return GENERIC_REASONS.find((r) => CODES[r] === code);
}

export class ApiError extends Error {
  readonly code: number;
  constructor(
    readonly reason: StatusReason,
    message: string,
    readonly details: Status['details'] = undefined,
  ) {
    super(message);
    this.name = 'ApiError';
    this.code = CODES[reason];
  }

  toStatus(): Status {
    const s: Status = {
      apiVersion: 'v1',
      kind: 'Status',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) s.details = this.details;
    return s;
  }

  static fromStatus(s: Status): ApiError {
    return new ApiError(s.reason ?? 'InternalError', s.message, s.details);
  }

  static notFound(kind: string, name: string, group = ''): ApiError {
    const what = group ? `${kind.toLowerCase()}s.${group}` : `${kind.toLowerCase()}s`;
    return new ApiError('NotFound', `${what} "${name}" not found`, {
      name,
      kind: kind.toLowerCase() + 's',
      group,
    });
  }

  static alreadyExists(kind: string, name: string, group = ''): ApiError {
    const what = group ? `${kind.toLowerCase()}s.${group}` : `${kind.toLowerCase()}s`;
    return new ApiError('AlreadyExists', `${what} "${name}" already exists`, {
      name,
      kind: kind.toLowerCase() + 's',
      group,
    });
  }

  static conflict(kind: string, name: string, why: string): ApiError {
    return new ApiError(
      'Conflict',
      `Operation cannot be fulfilled on ${kind.toLowerCase()}s "${name}": ${why}`,
      { name, kind: kind.toLowerCase() + 's' },
    );
  }

  static invalid(kind: string, name: string, causes: StatusCause[]): ApiError {
    const list = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
    return new ApiError('Invalid', `${kind} "${name}" is invalid: ${list}`, { name, kind, causes });
  }
}
