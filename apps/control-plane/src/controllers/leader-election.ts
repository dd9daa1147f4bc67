import { ApiError, kindFor, type KindInfo, type KubeObject } from '@berth/api';
import type { Fence, ResourceStore } from '@berth/store';

export const LEASE_KIND = kindFor('coordination.k8s.io/v1', 'Lease') as KindInfo;
const NAMESPACE_KIND = kindFor('v1', 'Namespace') as KindInfo;

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** What a candidate saw of the lease last, on its own clock (as client-go: no clock comparisons across hosts). */
export interface Observation {
  resourceVersion: string;
  atMs: number;
}

export type Decision = 'create' | 'renew' | 'acquire' | 'wait';

/**
 * The pure rule of leader election: create a missing lease; renew one we hold; take one that is
 * free (released: no holder) or whose holder has not renewed it (its resourceVersion unchanged
 * on our clock) for longer than its duration; otherwise wait.
 */
export function decide(
  lease: KubeObject | undefined,
  me: string,
  nowMs: number,
  seen: Observation | undefined,
  defaultDurationMs: number,
): Decision {
  if (!lease) return 'create';
  const spec = (lease.spec ?? {}) as LeaseSpec;
  if (spec.holderIdentity === me) return 'renew';
  if (!spec.holderIdentity) return 'acquire';
  if (!seen || seen.resourceVersion !== lease.metadata.resourceVersion) return 'wait';
  const durationMs = spec.leaseDurationSeconds ? spec.leaseDurationSeconds * 1000 : defaultDurationMs;
  return nowMs - seen.atMs > durationMs ? 'acquire' : 'wait';
}

/** RFC 3339 with microseconds, as Kubernetes writes Lease times. */
export function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export interface LeaderElectorOptions {
  store: ResourceStore;
  identity: string;
  namespace: string;
  name: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  onStartedLeading(): void;
  onStoppedLeading(): void;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
  now?: () => number;
}

/**
 * Leader election over a Lease object in the store. The holder renews every retry period with a
 * compare-and-swap on resourceVersion; a candidate takes the lease over when it has seen it
 * unchanged for the lease duration. The leader stops leading when it could not renew within the
 * renew deadline; and since every controller write is fenced on this lease's holderIdentity
 * (FencedStore), a leader that has not noticed yet still cannot write.
 */
export class LeaderElector {
  private leading = false;
  private lastRenewMs = 0;
  private seen: Observation | undefined;
  private timer?: NodeJS.Timeout;
  private wake?: () => void;
  private stopped = false;
  private loop?: Promise<void>;

  constructor(private readonly o: LeaderElectorOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  get fence(): Fence {
    return { namespace: this.o.namespace, name: this.o.name, holder: this.o.identity };
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    await this.ensureNamespace();
    while (!this.stopped) {
      try {
        await this.tryOnce();
      } catch (e) {
        if (!this.stopped) this.o.log.warn({ err: (e as Error).message }, 'leader election: attempt failed');
      }
      if (this.leading && this.now() - this.lastRenewMs > this.o.renewDeadlineMs) {
        this.o.log.warn(
          { identity: this.o.identity },
          'leader election: could not renew the lease in time; stepping down',
        );
        this.setLeading(false);
      }
      if (this.stopped) break;
      await new Promise<void>((r) => {
        this.wake = r;
        this.timer = setTimeout(r, this.o.retryPeriodMs);
      });
    }
  }

  private async ensureNamespace(): Promise<void> {
    for (let i = 0; !this.stopped; i++) {
      try {
        await this.o.store.create(NAMESPACE_KIND, {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: this.o.namespace },
        });
        return;
      } catch (e) {
        if (e instanceof ApiError && e.code === 409) return;
        this.o.log.warn({ err: (e as Error).message }, 'leader election: cannot create its namespace yet');
        await new Promise((r) => setTimeout(r, Math.min(this.o.retryPeriodMs, 1000)));
      }
    }
  }

  /** One round: read the lease and create, renew, acquire or wait. */
  async tryOnce(): Promise<void> {
    let lease: KubeObject | undefined;
    try {
      lease = await this.o.store.get(LEASE_KIND, this.o.namespace, this.o.name);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
    const now = this.now();
    if (lease && lease.metadata.resourceVersion !== this.seen?.resourceVersion) {
      this.seen = { resourceVersion: lease.metadata.resourceVersion as string, atMs: now };
    }
    const d = decide(lease, this.o.identity, now, this.seen, this.o.leaseDurationMs);
    const t = microTime(new Date(now));
    const duration = Math.ceil(this.o.leaseDurationMs / 1000);
    try {
      if (d === 'create') {
        await this.o.store.create(LEASE_KIND, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: {
            holderIdentity: this.o.identity,
            leaseDurationSeconds: duration,
            acquireTime: t,
            renewTime: t,
            leaseTransitions: 0,
          },
        });
      } else if (d === 'renew' || d === 'acquire') {
        const spec = { ...((lease!.spec ?? {}) as LeaseSpec) };
        spec.renewTime = t;
        spec.leaseDurationSeconds = duration;
        if (d === 'acquire') {
          spec.holderIdentity = this.o.identity;
          spec.acquireTime = t;
          spec.leaseTransitions = (spec.leaseTransitions ?? 0) + 1;
        }
        await this.o.store.update(LEASE_KIND, { ...lease!, spec });
      } else return;
    } catch (e) {
      if (e instanceof ApiError && e.code === 409) return; // someone else moved first
      throw e;
    }
    this.lastRenewMs = now;
    if (d !== 'renew' || !this.leading) {
      this.o.log.info({ identity: this.o.identity, how: d }, 'leader election: this control plane leads');
    }
    this.setLeading(true);
  }

  private setLeading(v: boolean): void {
    if (v === this.leading) return;
    this.leading = v;
    if (v) this.o.onStartedLeading();
    else this.o.onStoppedLeading();
  }

  /** Stops electing; a leader releases the lease so another candidate takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    await this.loop?.catch(() => undefined);
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.o.store.get(LEASE_KIND, this.o.namespace, this.o.name);
      const spec = (lease.spec ?? {}) as LeaseSpec;
      if (spec.holderIdentity !== this.o.identity) return;
      await this.o.store.update(LEASE_KIND, {
        ...lease,
        spec: { ...spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime() },
      });
      this.o.log.info({ identity: this.o.identity }, 'leader election: lease released');
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, 'leader election: could not release the lease');
    }
  }
}
