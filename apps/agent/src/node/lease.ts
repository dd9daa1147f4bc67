import { ApiError, kindFor, type KubeObject, type LeaseSpecV1 } from '@berth/api';
import type { BerthClient } from '@berth/client';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** As the kubelet: the control plane's grace period is what counts; this is informational. */
export const NODE_LEASE_DURATION_SECONDS = 40;

const LEASES = kindFor('coordination.k8s.io/v1', 'Lease')!;

/** RFC 3339 with microseconds (Kubernetes MicroTime), e.g. 2026-11-27T23:59:59.123456Z. */
export function microTime(d: Date, micros = 0): string {
  const us = String(Math.max(0, Math.min(999, Math.floor(micros)))).padStart(3, '0');
  return d.toISOString().replace(/\.(\d{3})Z$/, `.$1${us}Z`);
}

export interface LeaseOwner {
  name: string;
  uid: string;
}

/**
 * The node's Lease as the kubelet writes it: holder = node name, 40 s duration, renewTime now, and
 * an ownerReference to the Node (so it goes with the Node). Keeps whatever else `base` holds.
 */
export function renewedLease(
  base: KubeObject | undefined,
  nodeName: string,
  owner: LeaseOwner | undefined,
  now: string,
): KubeObject {
  const spec = (base?.spec ?? {}) as LeaseSpecV1;
  const metadata = { ...(base?.metadata ?? {}), name: nodeName, namespace: NODE_LEASE_NAMESPACE };
  delete metadata.managedFields;
  if (owner)
    metadata.ownerReferences = [
      ...(metadata.ownerReferences ?? []).filter((r) => !(r.kind === 'Node' && r.apiVersion === 'v1')),
      { apiVersion: 'v1', kind: 'Node', name: owner.name, uid: owner.uid },
    ];
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata,
    spec: {
      ...spec,
      holderIdentity: nodeName,
      leaseDurationSeconds: NODE_LEASE_DURATION_SECONDS,
      renewTime: now,
    },
  };
}

export interface NodeLeaseOptions {
  client: Pick<BerthClient, 'get' | 'create' | 'update'>;
  nodeName: string;
  /** The current time as MicroTime (tests fix it). */
  now?: () => string;
}

/**
 * Creates and renews the node's Lease `kube-node-lease/<node>`. A renewal is one update with the
 * last seen resourceVersion (compare-and-swap): on Conflict it re-reads and retries once, on
 * NotFound it creates the Lease again. Before its first create it makes the namespace
 * kube-node-lease (AlreadyExists is fine).
 */
export class NodeLease {
  private lease?: KubeObject;
  private owner?: LeaseOwner;
  private namespaceMade = false;
  private readonly now: () => string;

  constructor(private readonly o: NodeLeaseOptions) {
    this.now = o.now ?? (() => microTime(new Date(), (performance.now() * 1000) % 1000));
  }

  /** The Node the Lease belongs to (its uid changes when the Node is registered anew). */
  setOwner(owner: LeaseOwner): void {
    this.owner = owner;
  }

  get current(): KubeObject | undefined {
    return this.lease;
  }

  async renew(): Promise<KubeObject> {
    for (let attempt = 0; ; attempt++) {
      const cur = this.lease ?? (await this.fetch());
      if (!cur) return (this.lease = await this.create());
      try {
        this.lease = await this.o.client.update(renewedLease(cur, this.o.nodeName, this.owner, this.now()));
        return this.lease;
      } catch (e) {
        this.lease = undefined;
        const code = e instanceof ApiError ? e.code : 0;
        if (code === 404) return (this.lease = await this.create());
        if (code === 409 && attempt === 0) continue;
        throw e;
      }
    }
  }

  private async fetch(): Promise<KubeObject | undefined> {
    try {
      return await this.o.client.get(LEASES, NODE_LEASE_NAMESPACE, this.o.nodeName);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  private async create(): Promise<KubeObject> {
    const lease = renewedLease(undefined, this.o.nodeName, this.owner, this.now());
    (lease.spec as LeaseSpecV1).acquireTime = (lease.spec as LeaseSpecV1).renewTime;
    if (!this.namespaceMade) {
      await this.ensureNamespace();
      this.namespaceMade = true;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.o.client.create(lease);
      } catch (e) {
        const code = e instanceof ApiError ? e.code : 0;
        // someone (an earlier run of ours) made it meanwhile: renew that one
        if (code === 409) {
          const cur = await this.fetch();
          if (cur) return this.o.client.update(renewedLease(cur, this.o.nodeName, this.owner, this.now()));
        }
        // the namespace is missing: make it (tolerating a racing creator) and try again
        if (code === 404 && attempt === 0) {
          await this.ensureNamespace();
          continue;
        }
        throw e;
      }
    }
  }

  private async ensureNamespace(): Promise<void> {
    try {
      await this.o.client.create({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: NODE_LEASE_NAMESPACE },
        spec: {},
      });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 409)) throw e;
    }
  }
}
