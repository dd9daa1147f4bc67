import { kindFor } from '@berth/api';
import { listAndWatch, type BerthClient } from '@berth/client';
import type { ContainerRecord, ContainerSupervisor } from '../supervisor';
import { podKey, type Pod } from './container-config';
import type { PodSyncer } from './pod-syncer';
import { WorkQueue } from '@berth/controllers';

const PODS = kindFor('v1', 'Pod')!;

export interface PodControllerOptions {
  client: BerthClient;
  syncer: PodSyncer;
  supervisor: ContainerSupervisor;
  /** Emits 'change' (pod UID) when a container's probe results change its readiness. */
  prober?: {
    on(e: 'change', fn: (uid: string) => void): unknown;
    off(e: 'change', fn: (uid: string) => void): unknown;
  };
  nodeName: string;
  workers?: number;
  log: {
    info(o: object, m: string): void;
    warn(o: object, m: string): void;
    error(o: object, m: string): void;
  };
}

/**
 * The informer half: lists and watches only the pods bound to this node
 * (fieldSelector spec.nodeName=<node>; resumes after a broken watch, relists on 410), keeps the
 * syncer's cache, and enqueues pod keys; supervisor status changes enqueue their pod's key too.
 * After the first list it removes what belongs to pods that are gone.
 */
export class PodController {
  readonly queue: WorkQueue;
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private readonly onStatus = (rec: ContainerRecord) => {
    const key = this.o.syncer.keyOfUID(rec.spec.config.podUID);
    if (key) this.queue.add(key);
  };
  private readonly onProbe = (uid: string) => {
    const key = this.o.syncer.keyOfUID(uid);
    if (key) this.queue.add(key);
  };

  constructor(private readonly o: PodControllerOptions) {
    this.queue = new WorkQueue((key) => o.syncer.reconcile(key), {
      workers: o.workers ?? 16,
      onError: (key, err) =>
        o.log.warn({ pod: key, err: (err as Error).message }, 'pod sync failed; retrying'),
    });
  }

  /** Starts watching; resolves once the first list is in the cache and orphans are collected. */
  start(): Promise<void> {
    this.o.supervisor.on('status', this.onStatus);
    this.o.prober?.on('change', this.onProbe);
    return new Promise<void>((resolve, reject) => {
      let synced = false;
      this.loop = (async () => {
        const cache = this.o.syncer.cache;
        for await (const ev of listAndWatch<Pod>(
          this.o.client,
          PODS,
          {
            fieldSelector: `spec.nodeName=${this.o.nodeName}`,
            onRetry: (e) => this.o.log.warn({ err: (e as Error).message }, 'pod watch: retrying'),
          },
          this.abort.signal,
        )) {
          if (ev.type === 'SYNC') {
            const before = new Set(cache.keys());
            cache.clear();
            for (const p of ev.items) cache.set(podKey(p), p);
            for (const k of new Set([...before, ...cache.keys()])) this.queue.add(k);
            if (!synced) {
              synced = true;
              await this.o.syncer
                .collectOrphans()
                .catch((e: unknown) =>
                  this.o.log.warn({ err: (e as Error).message }, 'orphan cleanup failed'),
                );
              resolve();
            }
            continue;
          }
          const p = ev.object;
          if (!p?.metadata?.name) continue;
          const key = podKey(p);
          if (ev.type === 'DELETED') {
            const cur = cache.get(key);
            if (cur && cur.metadata.uid === p.metadata.uid) cache.delete(key);
          } else {
            const cur = cache.get(key);
            if (cur && cur.metadata.resourceVersion === p.metadata.resourceVersion) continue;
            if (
              cur &&
              cur.metadata.uid === p.metadata.uid &&
              Number(cur.metadata.resourceVersion) > Number(p.metadata.resourceVersion)
            )
              continue;
            cache.set(key, p);
          }
          this.queue.add(key);
        }
      })().catch((e: unknown) => {
        this.o.log.error({ err: (e as Error).message }, 'pod watch stopped');
        if (!synced) reject(e);
      });
    });
  }

  /** Stops watching and taking work; waits (up to `drainMs`) for syncs in flight, e.g. a pod being torn down. */
  async stop(drainMs = 10_000): Promise<void> {
    this.o.supervisor.off('status', this.onStatus);
    this.o.prober?.off('change', this.onProbe);
    this.abort.abort();
    this.queue.shutdown();
    await this.loop;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.queue.idle(), new Promise<void>((r) => (timer = setTimeout(r, drainMs)))]);
    clearTimeout(timer);
  }
}
