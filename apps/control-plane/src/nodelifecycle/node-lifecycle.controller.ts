import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { ApiError, kindFor, type KindInfo, type KubeObject } from '@berth/api';
import { objectKey, runReconciler, type EventRecorder, type Informer } from '@berth/controllers';
import type { ResourceStore } from '@berth/store';
import type { Logger } from 'pino';
import { SERVER_CONFIG, type ServerConfig } from '../config/config';
import { ControllerManager, type Controller } from '../controllers/controller-manager';
import { CONTROLLER_STORE, EVENT_RECORDER } from '../controllers/controllers.module';
import { SharedInformers } from '../controllers/shared-informers';
import { LOGGER } from '../logging/logger';
import { decideNode, type NodeCondition, type NodeMemory } from './node-health';

const NODES = kindFor('v1', 'Node') as KindInfo;
const LEASES = kindFor('coordination.k8s.io/v1', 'Lease') as KindInfo;
const PODS = kindFor('v1', 'Pod') as KindInfo;
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
export const BY_NODE = 'node';

const isoNow = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Watches Nodes and their Leases (kube-node-lease). A node whose heartbeat (lease renewal or
 * status) stops for the grace period gets Ready=Unknown, the unreachable taints, a NodeNotReady
 * event and its pods marked not ready; after the eviction timeout its pods are deleted so their
 * ReplicaSets replace them on other nodes. When the agent reports again the taints are removed
 * (the agent itself sets Ready=True and kills containers of pods that no longer exist).
 */
@Injectable()
export class NodeLifecycleController implements Controller, OnModuleInit {
  readonly name = 'nodelifecycle';
  private readonly nodes: Informer;
  private readonly leases: Informer;
  private readonly pods: Informer;
  private readonly memory = new Map<string, NodeMemory>();

  constructor(
    informers: SharedInformers,
    private readonly manager: ControllerManager,
    @Inject(CONTROLLER_STORE) private readonly store: ResourceStore,
    @Inject(EVENT_RECORDER) private readonly events: EventRecorder,
    @Inject(SERVER_CONFIG) private readonly config: ServerConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.nodes = informers.for(NODES);
    this.leases = informers.for(LEASES);
    this.pods = informers.for(PODS);
    this.pods.addIndex(BY_NODE, (p) => {
      const n = (p.spec as { nodeName?: string } | undefined)?.nodeName;
      return n ? [n] : [];
    });
  }

  onModuleInit(): void {
    this.manager.register(this);
  }

  async run(signal: AbortSignal): Promise<void> {
    // A new term starts from fresh observations: every node gets a full grace period.
    this.memory.clear();
    await runReconciler(
      {
        name: this.name,
        workers: 4,
        reconcile: (key) => this.reconcile(key),
        watches: [
          { informer: this.nodes, keys: (n) => [n.metadata.name as string] },
          {
            informer: this.leases,
            keys: (l) => (l.metadata.namespace === NODE_LEASE_NAMESPACE ? [l.metadata.name as string] : []),
          },
        ],
        onError: (key, err) =>
          this.log.warn({ node: key, err: (err as Error).message }, 'node lifecycle: retrying'),
      },
      signal,
    );
  }

  async reconcile(name: string): Promise<{ requeueAfterMs?: number } | void> {
    const node = this.nodes.get(name);
    if (!node) {
      this.memory.delete(name);
      return;
    }
    const lease = this.leases.getByName(NODE_LEASE_NAMESPACE, name);
    const now = Date.now();
    const a = decideNode(
      node,
      lease,
      this.memory.get(name),
      now,
      {
        gracePeriodMs: this.config.nodeMonitorGracePeriodMs,
        evictionTimeoutMs: this.config.podEvictionTimeoutMs,
      },
      isoNow(),
    );
    if (a.markUnknown) {
      await this.markUnknown(node);
      this.log.warn({ node: name }, 'node stopped posting status: NotReady');
      void this.events.record(node, 'Normal', 'NodeNotReady', `Node ${name} status is now: NodeNotReady`);
    }
    if (a.becameReady) {
      this.log.info({ node: name }, 'node reports again: Ready');
      void this.events.record(node, 'Normal', 'NodeReady', `Node ${name} status is now: NodeReady`);
    }
    if (a.taints) {
      const fresh = structuredClone(node);
      fresh.spec ??= {} as never;
      (fresh.spec as { taints?: unknown[] }).taints = a.taints.length ? a.taints : undefined;
      if (!a.taints.length) delete (fresh.spec as { taints?: unknown[] }).taints;
      await this.store.update(NODES, fresh);
    }
    if (a.markPodsNotReady) await this.markPodsNotReady(name);
    if (a.evict) await this.evict(name);
    this.memory.set(name, a.memory);
    return a.requeueAfterMs !== undefined ? { requeueAfterMs: a.requeueAfterMs } : undefined;
  }

  private async markUnknown(node: KubeObject): Promise<void> {
    const next = structuredClone(node);
    const status = (next.status ??= {}) as { conditions?: NodeCondition[] };
    const now = isoNow();
    const conds = status.conditions ?? [];
    const msg = 'Berth agent stopped posting node status.';
    const ready = conds.find((c) => c.type === 'Ready');
    if (ready) {
      ready.status = 'Unknown';
      ready.reason = 'NodeStatusUnknown';
      ready.message = msg;
      ready.lastTransitionTime = now;
    } else {
      conds.push({
        type: 'Ready',
        status: 'Unknown',
        reason: 'NodeStatusUnknown',
        message: msg,
        lastTransitionTime: now,
      });
    }
    status.conditions = conds;
    await this.store.update(NODES, next, { subresource: 'status' });
  }

  private async markPodsNotReady(node: string): Promise<void> {
    for (const p of this.pods.byIndex(BY_NODE, node)) {
      const conds = ((p.status as { conditions?: NodeCondition[] } | undefined)?.conditions ??
        []) as NodeCondition[];
      const ready = conds.find((c) => c.type === 'Ready');
      if (!ready || ready.status === 'False') continue;
      const next = structuredClone(p);
      const nc = ((next.status as { conditions: NodeCondition[] }).conditions ?? []).find(
        (c) => c.type === 'Ready',
      )!;
      nc.status = 'False';
      nc.reason = 'NodeNotReady';
      nc.message = 'the node is not ready';
      nc.lastTransitionTime = isoNow();
      try {
        await this.store.update(PODS, next, { subresource: 'status' });
      } catch (e) {
        if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) throw e;
      }
    }
  }

  private async evict(node: string): Promise<void> {
    for (const p of this.pods.byIndex(BY_NODE, node)) {
      if (p.metadata.deletionTimestamp) continue;
      try {
        await this.store.delete(PODS, p.metadata.namespace, p.metadata.name as string, {
          preconditions: { uid: p.metadata.uid },
        });
        this.log.info({ pod: objectKey(p), node }, 'evicted pod from NotReady node');
        void this.events.record(
          p,
          'Normal',
          'TaintManagerEviction',
          `Marking for deletion Pod ${objectKey(p)}`,
        );
      } catch (e) {
        if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) throw e;
      }
    }
  }
}
