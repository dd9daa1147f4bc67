import type { KindInfo, KubeObject } from '@berth/api';
import type {
  CreateOptions,
  DeleteOptions,
  Fence,
  ListOptions,
  ResourceStore,
  UpdateOptions,
  WatchOptions,
} from '@berth/store';

/**
 * The store as controllers see it: every write carries the leader's fence, so a control plane
 * that lost its lease (paused, partitioned, slow to notice) cannot write anything any more, even
 * before it finds out. Reads pass through.
 */
export class FencedStore implements ResourceStore {
  constructor(
    private readonly inner: ResourceStore,
    private readonly fence: () => Fence | undefined,
  ) {}

  private withFence<T extends { fence?: Fence }>(opts: T | undefined): T {
    const fence = this.fence();
    return { ...(opts ?? ({} as T)), ...(fence ? { fence } : {}) };
  }

  create(kind: KindInfo, obj: KubeObject, opts?: CreateOptions): Promise<KubeObject> {
    return this.inner.create(kind, obj, this.withFence(opts));
  }
  update(kind: KindInfo, obj: KubeObject, opts?: UpdateOptions): Promise<KubeObject> {
    return this.inner.update(kind, obj, this.withFence(opts));
  }
  delete(kind: KindInfo, ns: string | undefined, name: string, opts?: DeleteOptions): Promise<KubeObject> {
    return this.inner.delete(kind, ns, name, this.withFence(opts));
  }
  get(kind: KindInfo, ns: string | undefined, name: string): Promise<KubeObject> {
    return this.inner.get(kind, ns, name);
  }
  list(kind: KindInfo, opts?: ListOptions) {
    return this.inner.list(kind, opts);
  }
  watch(kind: KindInfo, opts: WatchOptions, signal: AbortSignal) {
    return this.inner.watch(kind, opts, signal);
  }
  getApplied(kind: KindInfo, ns: string | undefined, name: string, manager: string) {
    return this.inner.getApplied(kind, ns, name, manager);
  }
  currentRevision(): Promise<string> {
    return this.inner.currentRevision();
  }
  ping(): Promise<boolean> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return Promise.resolve(); // the store belongs to the StoreModule
  }
}
