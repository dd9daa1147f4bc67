import { ApiError, type WatchEvent } from '@berth/api';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toStatus } from '../errors/to-status';

/**
 * Writes a watch as Kubernetes does: HTTP 200 at once (headers flushed), then one JSON event per
 * line (`encode` may rewrite each event, e.g. into a one-row Table). Errors after the headers
 * (410 Expired for a compacted resourceVersion, 503) become a final
 * ERROR event carrying a Status. `open` must throw synchronously for a bad request (then the
 * response is an ordinary error Status). Ends when the client goes away, on timeoutSeconds, or at shutdown.
 */
export async function streamWatch(
  req: FastifyRequest,
  reply: FastifyReply,
  open: (signal: AbortSignal) => AsyncIterable<WatchEvent>,
  opts: {
    timeoutSeconds?: number;
    shutdown: AbortSignal;
    onInternalError?: (e: unknown) => void;
    /** Rewrites each event before it is written (Table watches turn objects into one-row Tables). */
    encode?: (ev: WatchEvent) => unknown;
  },
): Promise<void> {
  const encode = opts.encode ?? ((ev: WatchEvent): unknown => ev);
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  const raw = reply.raw;
  req.raw.once('close', stop);
  req.raw.once('aborted', stop);
  raw.once('close', stop);
  raw.once('error', stop);
  opts.shutdown.addEventListener('abort', stop, { once: true });
  const timer = opts.timeoutSeconds ? setTimeout(stop, opts.timeoutSeconds * 1000) : undefined;
  const cleanup = (): void => {
    if (timer) clearTimeout(timer);
    opts.shutdown.removeEventListener('abort', stop);
    ac.abort();
  };

  // Opening checks the request (selectors, resourceVersion) synchronously: a bad one is a
  // plain 400 response because nothing has been written yet.
  let events: AsyncIterable<WatchEvent>;
  try {
    events = open(ac.signal);
  } catch (e) {
    cleanup();
    throw e;
  }
  reply.hijack();
  raw.writeHead(200, {
    'content-type': 'application/json',
    'cache-control': 'no-cache, private',
    'transfer-encoding': 'chunked',
    'x-content-type-options': 'nosniff',
  });
  raw.flushHeaders();
  try {
    for await (const ev of events) {
      if (ac.signal.aborted) break;
      const ok = raw.write(JSON.stringify(encode(ev)) + '\n');
      if (!ok && !ac.signal.aborted) await drained(raw, ac.signal);
    }
  } catch (e) {
    if (!ac.signal.aborted) {
      const { status: st, internal } = toStatus(e);
      if (internal) opts.onInternalError?.(e);
      let status = st;
      if (e instanceof ApiError && e.code === 410) status = { ...status, reason: 'Expired', code: 410 };
      if (!raw.destroyed) raw.write(JSON.stringify({ type: 'ERROR', object: status }) + '\n');
    }
  } finally {
    cleanup();
    if (!raw.writableEnded && !raw.destroyed) raw.end();
  }
}

function drained(raw: NodeJS.WritableStream, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      raw.removeListener('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    raw.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
