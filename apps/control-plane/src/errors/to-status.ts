import { HttpException } from '@nestjs/common';
import { ApiError, reasonForCode, type Status } from '@berth/api';

const BY_CODE_MESSAGES: Record<number, string> = {
  404: 'the server could not find the requested resource',
  413: 'the request body is larger than the 3 MiB limit',
};

const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'the request body is larger than the 3 MiB limit',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'the body of the request was in an unknown format',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the request body is empty',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'the request body does not match its Content-Length',
};

/**
 * Any thrown value as a Kubernetes Status. `internal` is true for unexpected errors (500), whose
 * message is logged by the caller and replaced by a generic one (stacks never leave the server).
 */
export function toStatus(err: unknown): { status: Status; internal: boolean } {
  if (err instanceof ApiError)
    return { status: err.toStatus(), internal: err.code >= 500 && err.reason === 'InternalError' };
  let code: number | undefined;
  let message: string | undefined;
  if (err instanceof HttpException) {
    code = err.getStatus();
    message = BY_CODE_MESSAGES[code] ?? err.message;
  } else if (err && typeof err === 'object' && 'statusCode' in err && typeof err.statusCode === 'number') {
    const e = err as { statusCode: number; code?: string; message?: string };
    code = e.statusCode;
    message = (e.code && FASTIFY_MESSAGES[e.code]) || e.message || 'bad request';
  }
  const reason = code !== undefined && code >= 400 && code < 500 ? reasonForCode(code) : undefined;
  if (reason) {
    return { status: new ApiError(reason, message ?? '').toStatus(), internal: false };
  }
  if (code === 503)
    return {
      status: new ApiError('ServiceUnavailable', message ?? 'service unavailable').toStatus(),
      internal: false,
    };
  return {
    status: new ApiError('InternalError', 'an internal error occurred; see the control plane log').toStatus(),
    internal: true,
  };
}
