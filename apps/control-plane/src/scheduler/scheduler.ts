/**
 * The scheduling loop: pending pods from the pod informer go through one work queue decided one
 * at a time (so each decision sees the previous ones through the cache's assumed pods), and are
 * bound asynchronously with bounded concurrency, so throughput is not one round trip per pod.
 */
import { ApiError, kindFor, type KindInfo, type KubeObject } from '@berth/api';
import { objectKey, WorkQueue, type Informer, type InformerHandler } from '@berth/controllers';
import type { ResourceStore } from '@berth/store';
import { isPendingPod, numFeasibleNodesToFind, podInfo, schedule } from './schedule-algorithm';
import { SchedulerCache } from './scheduler-cache';

export const PODS = kindFor('v1', 'Pod') as KindInfo;

export interface SchedulerLog {
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
  debug(o: object, msg: string): void;
}

export interface SchedulerEvents {
  record(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

/** What the scheduler reports for metrics (kube-scheduler's schedule_attempts_total and friends). */
export interface SchedulerMetrics {
  attempt(result: 'scheduled' | 'unschedulable' | 'error'): void;
  /** Seconds from the decision to the binding's acknowledgement. */
  bindingSeconds(seconds: number): void;
}

export interface PodSchedulerOptions {
  pods: Informer;
  nodes: Informer;
  /** Where bindings and status go (the control plane's fenced store). */
  store: Pick<ResourceStore, 'get' | 'update'>;
  events: SchedulerEvents;
  log: SchedulerLog;
  metrics?: SchedulerMetrics;
  /** Writes (bindings, status) in flight at most; default 48. */
  concurrency?: number;
  /** Retry delay of an unschedulable pod: initial, doubling up to max (default 1 s → 30 s). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  now?: () => Date;
}

interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string;
}

const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function isFenced(e: unknown): boolean {
  return e instanceof ApiError && !!e.details?.causes?.some((c) => c.reason === 'Fenced');
}

/** A small counting semaphore. */
class Slots {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly idlers: (() => void)[] = [];
  constructor(private readonly max: number) {}

  acquire(): Promise<void> | undefined {
    if (this.active < this.max) {
      this.active++;
      return undefined;
    }
    return new Promise((r) => this.waiters.push(r));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) return next(); // the slot passes on
    this.active--;
    if (!this.active) for (const r of this.idlers.splice(0)) r();
  }

  idle(): Promise<void> {
    return this.active ? new Promise((r) => this.idlers.push(r)) : Promise.resolve();
  }
}

/**
 * One scheduling term (while this control plane leads): builds its cache from the informers,
 * schedules every pending pod, and follows changes until `signal` aborts.
 */
export class PodScheduler {
  readonly cache = new SchedulerCache();
  private readonly queue: WorkQueue;
  private readonly slots: Slots;
  /** Pods whose binding is in flight. */
  private readonly binding = new Set<string>();
  /** Unschedulable pods (waiting for backoff or a cluster change) → failed attempts so far. */
  private readonly unschedulable = new Map<string, number>();
  /** A pod read from the store after a conflict, newer than the informer's copy. */
  private readonly fresher = new Map<string, KubeObject>();
  private nextStart = 0;
  /** Counters for logs and tests. */
  readonly stats = { scheduled: 0, failed: 0, conflicts: 0 };

  constructor(private readonly o: PodSchedulerOptions) {
    this.queue = new WorkQueue((key) => this.scheduleOne(key), {
      workers: 1,
      onError: (key, err) =>
        o.log.warn({ pod: key, err: (err as Error).message }, 'scheduler: attempt failed'),
    });
    this.slots = new Slots(o.concurrency ?? 48);
  }

  async run(signal: AbortSignal): Promise<void> {
    const { pods, nodes } = this.o;
    await Promise.all([pods.whenSynced(), nodes.whenSynced()]);
    if (signal.aborted) return;
    // Seed and subscribe in one synchronous step, so no event falls between the two.
    for (const n of nodes.list()) this.cache.setNode(n);
    for (const p of pods.list()) this.cache.updatePod(objectKey(p), p);
    const offNodes = nodes.addHandler(this.nodeHandler());
    const offPods = pods.addHandler(this.podHandler());
    let pending = 0;
    for (const p of pods.list()) {
      if (isPendingPod(p)) {
        pending++;
        this.queue.add(objectKey(p));
      }
    }
    this.o.log.info(
      { nodes: this.cache.nodes.length, boundPods: this.cache.podCount, pendingPods: pending },
      'scheduler started',
    );
    await new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    offNodes();
    offPods();
    this.queue.shutdown();
    await this.queue.idle();
    await this.slots.idle();
    this.o.log.info({ ...this.stats }, 'scheduler stopped');
  }

  /** Pods waiting: in the queue (to decide now) and unschedulable (waiting for backoff or a change). */
  get pending(): { active: number; unschedulable: number } {
    return { active: this.queue.length, unschedulable: this.unschedulable.size };
  }

  /** Resolves when nothing is queued, deciding or being written (timers may be pending). For tests. */
  async idle(): Promise<void> {
    for (;;) {
      await this.queue.idle();
      await this.slots.idle();
      await new Promise((r) => setImmediate(r));
      if (!this.queue.length && !this.binding.size) {
        await this.queue.idle();
        if (!this.queue.length) return;
      }
    }
  }

  private nodeHandler(): InformerHandler {
    return {
      add: (n) => {
        if (this.cache.setNode(n)) this.retryUnschedulable();
      },
      update: (_old, n) => {
        if (this.cache.setNode(n)) this.retryUnschedulable();
      },
      delete: (n) => this.cache.removeNode(n.metadata.name as string),
    };
  }

  private podHandler(): InformerHandler {
    const changed = (old: KubeObject | undefined, cur: KubeObject) => {
      const key = objectKey(cur);
      const f = this.fresher.get(key);
      if (f && Number(f.metadata.resourceVersion) <= Number(cur.metadata.resourceVersion)) {
        this.fresher.delete(key);
      }
      if (this.cache.updatePod(key, cur)) this.retryUnschedulable();
      if (!isPendingPod(cur)) return this.settled(key);
      // A pod waiting out its backoff is retried early only when its spec or labels changed,
      // not for status writes (its Unschedulable condition is one of ours).
      if (
        old &&
        this.unschedulable.has(key) &&
        old.metadata.generation === cur.metadata.generation &&
        JSON.stringify(old.metadata.labels) === JSON.stringify(cur.metadata.labels)
      ) {
        return;
      }
      this.queue.add(key);
    };
    return {
      add: (p) => changed(undefined, p),
      update: (old, cur) => changed(old, cur),
      delete: (p) => {
        const key = objectKey(p);
        if (this.cache.removePod(key, p.metadata.uid)) this.retryUnschedulable();
        this.fresher.delete(key);
        this.settled(key);
      },
    };
  }

  /** The pod no longer needs scheduling: forget its attempts. */
  private settled(key: string): void {
    this.unschedulable.delete(key);
  }

  /** Something changed that may let unschedulable pods fit: try them all again now. */
  private retryUnschedulable(): void {
    for (const key of this.unschedulable.keys()) this.queue.add(key);
  }

  private current(key: string): KubeObject | undefined {
    const p = this.o.pods.get(key);
    const f = this.fresher.get(key);
    if (!f) return p;
    if (!p || p.metadata.uid !== f.metadata.uid) return p;
    return Number(f.metadata.resourceVersion) > Number(p.metadata.resourceVersion) ? f : p;
  }

  /** One decision (the work queue's only worker runs this, so decisions never overlap). */
  private async scheduleOne(key: string): Promise<{ requeueAfterMs?: number } | void> {
    if (this.binding.has(key) || this.cache.isAssumed(key)) return;
    const pod = this.current(key);
    if (!pod || !isPendingPod(pod)) return;
    // Wait for a free write slot first, so the decision uses the state as of its write.
    const wait = this.slots.acquire();
    if (wait) await wait;
    const latest = this.current(key);
    if (!latest || !isPendingPod(latest) || this.binding.has(key) || this.cache.isAssumed(key)) {
      this.slots.release();
      return;
    }
    const info = podInfo(latest);
    const nodes = this.cache.nodes;
    const r = schedule(info, nodes, this.nextStart, numFeasibleNodesToFind(nodes.length));
    if (r.ok) {
      this.nextStart = r.index + 1;
      const uid = latest.metadata.uid as string;
      this.cache.assume(key, uid, info, r.node);
      this.binding.add(key);
      void this.bind(key, latest, r.node).then((retryMs) => {
        this.binding.delete(key);
        this.slots.release();
        if (retryMs !== undefined) this.queue.addAfter(key, retryMs);
      });
      return;
    }
    const attempts = (this.unschedulable.get(key) ?? 0) + 1;
    this.unschedulable.set(key, attempts);
    this.stats.failed++;
    this.o.metrics?.attempt('unschedulable');
    void this.reportUnschedulable(latest, r.message).finally(() => this.slots.release());
    const base = this.o.backoffInitialMs ?? 1000;
    return {
      requeueAfterMs: Math.min(this.o.backoffMaxMs ?? 30_000, base * 2 ** Math.min(attempts - 1, 20)),
    };
  }

  /** Binds; resolves to a delay after which to try the pod again when it failed and still needs it. */
  private async bind(key: string, pod: KubeObject, node: string): Promise<number | undefined> {
    const uid = pod.metadata.uid as string;
    const binding: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: pod.metadata.name,
        namespace: pod.metadata.namespace,
        uid,
        resourceVersion: pod.metadata.resourceVersion,
      },
      spec: { nodeName: node },
    };
    const started = performance.now();
    try {
      await this.o.store.update(PODS, binding, { subresource: 'binding' });
    } catch (e) {
      this.cache.forget(key, uid);
      this.o.metrics?.attempt('error');
      try {
        return await this.bindFailed(key, pod, node, e);
      } catch (e2) {
        this.o.log.warn({ pod: key, err: (e2 as Error).message }, 'scheduler: binding failed');
        return 1000;
      }
    }
    this.stats.scheduled++;
    this.o.metrics?.attempt('scheduled');
    this.o.metrics?.bindingSeconds((performance.now() - started) / 1000);
    this.unschedulable.delete(key);
    this.fresher.delete(key);
    await this.o.events.record(
      pod,
      'Normal',
      'Scheduled',
      `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${node}`,
    );
  }

  private async bindFailed(
    key: string,
    pod: KubeObject,
    node: string,
    e: unknown,
  ): Promise<number | undefined> {
    if (e instanceof ApiError && e.code === 404) return undefined; // deleted meanwhile
    if (isFenced(e)) {
      this.o.log.warn({ pod: key, node }, 'scheduler: binding fenced (no longer the leader)');
      return 1000;
    }
    if (!(e instanceof ApiError && e.code === 409)) {
      this.o.log.warn({ pod: key, node, err: (e as Error).message }, 'scheduler: binding failed; retrying');
      return 1000;
    }
    this.stats.conflicts++;
    // A stale copy, or someone else moved first: re-read; drop the pod if it is settled, else retry.
    let fresh: KubeObject;
    try {
      fresh = await this.o.store.get(PODS, pod.metadata.namespace, pod.metadata.name as string);
    } catch (e2) {
      return e2 instanceof ApiError && e2.code === 404 ? undefined : 1000;
    }
    if (!isPendingPod(fresh)) {
      this.o.log.debug({ pod: key, node: fresh.spec?.nodeName }, 'scheduler: pod was bound by someone else');
      return undefined;
    }
    this.fresher.set(key, fresh);
    return 0;
  }

  /** Writes the PodScheduled=False condition (when it changed) and a FailedScheduling event. */
  private async reportUnschedulable(pod: KubeObject, message: string): Promise<void> {
    const key = objectKey(pod);
    this.o.log.debug({ pod: key, message }, 'scheduler: pod is unschedulable');
    const status = { ...((pod.status ?? {}) as { phase?: string; conditions?: PodCondition[] }) };
    const conditions = status.conditions ?? [];
    const prev = conditions.find((c) => c.type === 'PodScheduled');
    if (!(prev?.status === 'False' && prev.reason === 'Unschedulable' && prev.message === message)) {
      const now = rfc3339(this.o.now?.() ?? new Date());
      const cond: PodCondition = {
        type: 'PodScheduled',
        status: 'False',
        lastProbeTime: null,
        lastTransitionTime: prev?.status === 'False' ? (prev.lastTransitionTime ?? now) : now,
        reason: 'Unschedulable',
        message,
      };
      status.phase ??= 'Pending';
      status.conditions = prev
        ? conditions.map((c) => (c.type === 'PodScheduled' ? cond : c))
        : [...conditions, cond];
      try {
        const written = await this.o.store.update(
          PODS,
          {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: {
              name: pod.metadata.name,
              namespace: pod.metadata.namespace,
              uid: pod.metadata.uid,
              resourceVersion: pod.metadata.resourceVersion,
            },
            status,
          },
          { subresource: 'status' },
        );
        // Our own write: the next attempt binds from it, not from an older cached copy.
        if (isPendingPod(written)) this.fresher.set(key, written);
      } catch (e) {
        // A conflict means the pod changed: the next attempt reads it again.
        if (!(e instanceof ApiError && (e.code === 409 || e.code === 404))) {
          this.o.log.warn({ pod: key, err: (e as Error).message }, 'scheduler: cannot write pod status');
        }
      }
    }
    await this.o.events.record(pod, 'Warning', 'FailedScheduling', message);
  }
}
