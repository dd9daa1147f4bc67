import type { KubeObject } from '@berth/api';
import { objectKey, type Informer } from '@berth/controllers';

/**
 * What this controller wrote and its informer may not show yet (an "assumed" cache, as the
 * scheduler keeps): the object each write returned, kept until the informer has applied that
 * revision. Reads take the newer of the two, so a reconcile that runs before the watch delivers
 * our own writes neither creates the same ReplicaSet again nor scales from stale sizes.
 * Store revisions are one global counter, and an informer applies its kind's changes in order,
 * so `informer.lastResourceVersion >= rv` means the informer holds that write or a later state.
 */
export class AssumedCache<T extends KubeObject = KubeObject> {
  private readonly written = new Map<string, T>();

  constructor(private readonly informer: Informer<T>) {}

  /** Remembers an object as a write returned it. */
  assume(obj: T): void {
    const key = objectKey(obj);
    const cur = this.written.get(key);
    if (cur && rv(cur) >= rv(obj)) return;
    this.written.set(key, obj);
  }

  private caughtUp(obj: T): boolean {
    return Number(this.informer.lastResourceVersion || 0) >= rv(obj);
  }

  /** The freshest known state of `key` (undefined when neither has it). */
  get(key: string): T | undefined {
    const mine = this.written.get(key);
    if (mine && this.caughtUp(mine)) this.written.delete(key);
    else if (mine) return mine;
    return this.informer.get(key);
  }

  /**
   * The informer's objects passed through get(), plus assumed objects the informer does not have
   * yet, filtered by `keep`.
   */
  merge(fromInformer: T[], keep: (o: T) => boolean): T[] {
    const out = new Map<string, T>();
    for (const o of fromInformer) {
      const key = objectKey(o);
      const cur = this.get(key);
      if (cur && keep(cur)) out.set(key, cur);
    }
    for (const [key, o] of [...this.written]) {
      if (out.has(key)) continue;
      if (this.caughtUp(o)) {
        this.written.delete(key);
        continue;
      }
      if (keep(o)) out.set(key, o);
    }
    return [...out.values()];
  }

  get size(): number {
    return this.written.size;
  }
}

function rv(o: KubeObject): number {
  return Number(o.metadata.resourceVersion ?? 0);
}
