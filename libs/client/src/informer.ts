import { ApiError, type KindInfo, type KubeObject, type WatchEvent } from '@berth/api';
import type { BerthClient } from './client';
import { sleep } from '@berth/controllers';
import { ConnectionError } from './http';

export interface ListAndWatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size of the (re)lists; default 500. */
  pageSize?: number;
  /** Wait before retrying after a failed list or a refused connection; default 1000 ms (doubles up to 30 s). */
  retryDelayMs?: number;
  /** Called for errors that are retried (connection refused, 5xx); default: ignore. */
  onRetry?: (err: unknown) => void;
}

/**
 * What listAndWatch yields: a SYNC with the complete current list (first, and again after every
 * relist; consumers replace their cache with it), then the watch events after that list.
 */
export type InformerEvent<T extends KubeObject = KubeObject> =
  { type: 'SYNC'; items: T[]; resourceVersion: string } | WatchEvent<T>;

function isRetryable(e: unknown): boolean {
  if (e instanceof ConnectionError) return true;
  if (e instanceof ApiError) return e.code >= 500 || e.code === 429;
  return false;
}

/**
 * The informer loop: list, then watch from the list's resourceVersion; when the watch ends or the
 * connection breaks, watch again from the last version seen (events and bookmarks); when the server
 * answers 410 Gone, list again. Runs until the signal aborts; errors that are not retryable
 * (401, 403, 404, ...) are thrown.
 */
export async function* listAndWatch<T extends KubeObject = KubeObject>(
  client: BerthClient,
  kind: KindInfo,
  opts: ListAndWatchOptions,
  signal: AbortSignal,
): AsyncGenerator<InformerEvent<T>> {
  const baseDelay = opts.retryDelayMs ?? 1000;
  let delay = baseDelay;
  let rv: string | undefined;
  const sel = {
    namespace: opts.namespace,
    labelSelector: opts.labelSelector,
    fieldSelector: opts.fieldSelector,
  };
  while (!signal.aborted) {
    if (rv === undefined) {
      try {
        const list = await client.listAll<T>(kind, { ...sel, limit: opts.pageSize ?? 500 });
        rv = list.metadata?.resourceVersion ?? '0';
        delay = baseDelay;
        yield { type: 'SYNC', items: list.items, resourceVersion: rv };
      } catch (e) {
        if (signal.aborted) return;
        if (!isRetryable(e)) throw e;
        opts.onRetry?.(e);
        await sleep(delay, signal);
        delay = Math.min(delay * 2, 30_000);
        continue;
      }
    }
    try {
      let seen = 0;
      for await (const ev of client.watch<T>(
        kind,
        { ...sel, resourceVersion: rv, allowBookmarks: true },
        signal,
      )) {
        seen++;
        const evRv = ev.object?.metadata?.resourceVersion;
        if (evRv) rv = evRv;
        delay = baseDelay;
        if (ev.type === 'BOOKMARK') continue;
        yield ev;
      }
      // The server closed the stream; an empty one right away must not become a busy loop.
      if (!seen) await sleep(Math.min(baseDelay, 1000), signal);
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ApiError && (e.code === 410 || e.reason === 'Gone' || e.reason === 'Expired')) {
        rv = undefined; // relist
        continue;
      }
      if (!isRetryable(e)) throw e;
      opts.onRetry?.(e);
      await sleep(delay, signal);
      delay = Math.min(delay * 2, 30_000);
    }
  }
}
