import type { KubeObject } from '@berth/api';
import type { Informer } from './informer';
import { WorkQueue, type Reconcile } from './work-queue';

/** One informer a controller follows and how its objects map to the controller's keys. */
export interface Watch<T extends KubeObject = KubeObject> {
  informer: Informer<T>;
  /** The keys to enqueue for an object (itself, its owner, the node it is on, ...). */
  keys(obj: T): string[];
}

export interface ReconcilerSpec {
  name: string;
  reconcile: Reconcile;
  // Watches of different kinds; the element type is checked where each is built.
  watches: Watch<any>[];
  workers?: number;
  /** Every key of the first watch is enqueued again at this interval (level-triggered resync). */
  resyncMs?: number;
  onError?: (key: string, err: unknown) => void;
}

/**
 * Runs a controller in the controller-runtime shape until `signal` aborts: waits for its
 * informers' caches, enqueues every existing object's keys, then the keys of every change
 * (skipping updates whose resourceVersion did not move), and hands keys to a WorkQueue that calls
 * reconcile. Returns after the workers have stopped.
 */
export async function runReconciler(spec: ReconcilerSpec, signal: AbortSignal): Promise<WorkQueue> {
  const queue = new WorkQueue(spec.reconcile, { workers: spec.workers ?? 4, onError: spec.onError });
  if (signal.aborted) return queue;
  await Promise.all(spec.watches.map((w) => w.informer.whenSynced()));
  const offs = spec.watches.map((w) => {
    const enqueue = (o: KubeObject) => {
      for (const k of w.keys(o)) queue.add(k);
    };
    const off = w.informer.addHandler({
      add: enqueue,
      update: (old: KubeObject, cur: KubeObject) => {
        if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
        const keys = new Set([...w.keys(old), ...w.keys(cur)]);
        for (const k of keys) queue.add(k);
      },
      delete: enqueue,
    });
    for (const o of w.informer.list()) enqueue(o);
    return off;
  });
  let resync: NodeJS.Timeout | undefined;
  if (spec.resyncMs && spec.watches.length) {
    const first = spec.watches[0];
    resync = setInterval(() => {
      for (const o of first.informer.list()) for (const k of first.keys(o)) queue.add(k);
    }, spec.resyncMs);
    resync.unref();
  }
  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  if (resync) clearInterval(resync);
  for (const off of offs) off();
  queue.shutdown();
  await queue.idle();
  return queue;
}
