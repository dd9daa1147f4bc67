import { ApiError, type KindInfo, type KubeObject } from '@berth/api';
import { sleep, type SourceEvent } from '@berth/controllers';
import type { ResourceStore } from '@berth/store';

/**
 * An informer source over the store itself (controllers run in the API server's process, so they
 * read Redis directly rather than through HTTP): list, then watch from the list's revision,
 * resume after a broken watch, list again after 410 Gone; retries Redis outages with backoff.
 */
export async function* storeListAndWatch<T extends KubeObject = KubeObject>(
  store: ResourceStore,
  kind: KindInfo,
  opts: { namespace?: string; onRetry?: (err: unknown) => void },
  signal: AbortSignal,
): AsyncGenerator<SourceEvent<T>> {
  let rv: string | undefined;
  let delay = 200;
  while (!signal.aborted) {
    try {
      if (rv === undefined) {
        const list = await store.list(kind, { namespace: opts.namespace });
        rv = list.resourceVersion;
        delay = 200;
        yield { type: 'SYNC', items: list.items as T[], resourceVersion: rv };
      }
      for await (const ev of store.watch(kind, { namespace: opts.namespace, resourceVersion: rv }, signal)) {
        const evRv = ev.object?.metadata?.resourceVersion;
        if (evRv) rv = evRv;
        delay = 200;
        if (ev.type === 'BOOKMARK') continue;
        yield ev as SourceEvent<T>;
      }
      if (!signal.aborted) await sleep(100, signal);
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ApiError && e.code === 410) {
        rv = undefined;
        continue;
      }
      opts.onRetry?.(e);
      await sleep(delay, signal);
      delay = Math.min(delay * 2, 5000);
    }
  }
}
