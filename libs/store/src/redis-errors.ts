import { ApiError } from '@berth/api';

/** Redis replies that mean "the server is there but cannot serve now" rather than a bug. */
const TRANSIENT_REPLIES = /^(LOADING|MASTERDOWN|READONLY|BUSY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS|MISCONF)\b/;

/**
 * Turns whatever a Redis call threw into an ApiError: ApiErrors pass through; connection
 * failures, timeouts and transient replies become 503 ServiceUnavailable
 * ("storage is unavailable: <cause>"); other Redis replies are 500 InternalError.
 */
export function toApiError(e: unknown, lastConnectionError?: string): ApiError {
  if (e instanceof ApiError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  if (
    err instanceof TypeError ||
    err instanceof RangeError ||
    err instanceof SyntaxError ||
    err instanceof ReferenceError
  ) {
    return new ApiError('InternalError', `store failure: ${err.message}`);
  }
  const isReply = err.name === 'ReplyError';
  if (isReply && !TRANSIENT_REPLIES.test(err.message)) {
    return new ApiError('InternalError', `storage error: ${err.message}`);
  }
  let cause = err.message;
  if (lastConnectionError && !cause.includes(lastConnectionError)) cause += ` (${lastConnectionError})`;
  return new ApiError('ServiceUnavailable', `storage is unavailable: ${cause}`, { retryAfterSeconds: 1 });
}
