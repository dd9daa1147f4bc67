import { ApiError, kindFor, type KindInfo, type KubeObject, type ObjectMeta } from '@berth/api';
import {
  BY_OWNER,
  TerminalError,
  objectKey,
  type EventType,
  type Informer,
  type ReconcileResult,
  type Watch,
} from '@berth/controllers';
import type { ResourceStore } from '@berth/store';
import { AssumedCache } from './assumed-cache';
import {
  claimReplicaSets,
  ownerReferenceTo,
  syncDeployment,
  type Action,
  type SyncPlan,
} from './deployment-logic';
import { controllerRef, equalIgnoreHash } from './deployment-util';

export const DEPLOYMENT_KIND = kindFor('apps/v1', 'Deployment') as KindInfo;
export const REPLICASET_KIND = kindFor('apps/v1', 'ReplicaSet') as KindInfo;
export const POD_KIND = kindFor('v1', 'Pod') as KindInfo;

/** Informer index of the ReplicaSet informer: namespace → ReplicaSets without a controller. */
export const ORPHANS_BY_NAMESPACE = 'deployment-orphans';

/** How soon to look again after a write lost a compare-and-swap race (the watch brings the news). */
const CONFLICT_RETRY_MS = 100;

export interface DeploymentReconcilerDeps {
  deployments: Informer;
  replicaSets: Informer;
  pods: Informer;
  /** The fenced controller store: every write goes through it. */
  store: ResourceStore;
  recorder: {
    record(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void>;
  };
  log?: { warn(o: object, msg: string): void; debug(o: object, msg: string): void };
  now?: () => Date;
}

const isController = (o: KubeObject, owner: KubeObject): boolean => {
  const ref = controllerRef(o);
  return !!ref && ref.uid === owner.metadata.uid && ref.kind === owner.kind;
};

/**
 * Reconciles one Deployment key: reads the Deployment and its ReplicaSets (informers + what this
 * controller wrote and the watch has not delivered yet), plans a sync with syncDeployment and
 * performs the writes in order through the fenced store, with compare-and-swap on every update.
 */
export class DeploymentReconciler {
  private readonly deployments: AssumedCache;
  private readonly replicaSets: AssumedCache;

  constructor(private readonly deps: DeploymentReconcilerDeps) {
    this.deployments = new AssumedCache(deps.deployments);
    this.replicaSets = new AssumedCache(deps.replicaSets);
    deps.replicaSets.addIndex(ORPHANS_BY_NAMESPACE, (rs) =>
      !controllerRef(rs) && rs.metadata.namespace ? [rs.metadata.namespace] : [],
    );
  }

  /** The informers this controller follows and how their objects map to Deployment keys. */
  watches(): Watch[] {
    const { deployments, replicaSets, pods } = this.deps;
    return [
      { informer: deployments, keys: (d: KubeObject) => [objectKey(d)] },
      { informer: replicaSets, keys: (rs: KubeObject) => this.replicaSetKeys(rs) },
      {
        // Only Recreate waits for pods (its old pods must be gone before the new ones start).
        informer: pods,
        keys: (pod: KubeObject) => {
          const ref = controllerRef(pod);
          if (ref?.kind !== 'ReplicaSet' || !pod.metadata.namespace) return [];
          const rs = replicaSets.getByName(pod.metadata.namespace, ref.name);
          if (!rs || rs.metadata.uid !== ref.uid) return [];
          return this.ownerKeys(rs).filter((k) => deployments.get(k)?.spec?.strategy?.type === 'Recreate');
        },
      },
    ];
  }

  /** Its controller; for an orphan, every Deployment of its namespace whose selector may adopt it. */
  private replicaSetKeys(rs: KubeObject): string[] {
    if (controllerRef(rs) || !rs.metadata.namespace) return this.ownerKeys(rs);
    return this.deps.deployments
      .list(rs.metadata.namespace)
      .filter((d) => claimReplicaSets(d, [], [rs]).adopt.length > 0)
      .map((d) => objectKey(d));
  }

  private ownerKeys(rs: KubeObject): string[] {
    const ref = controllerRef(rs);
    if (ref?.kind !== 'Deployment' || !rs.metadata.namespace) return [];
    return [`${rs.metadata.namespace}/${ref.name}`];
  }

  /** The ReplicaSets this Deployment controls, freshest state of each. */
  replicaSetsOf(d: KubeObject): KubeObject[] {
    const uid = d.metadata.uid as string;
    return this.replicaSets.merge(this.deps.replicaSets.byIndex(BY_OWNER, uid), (rs) => isController(rs, d));
  }

  reconcile = async (key: string, _signal?: AbortSignal): Promise<ReconcileResult> => {
    const d = this.deployments.get(key);
    if (!d) return; // deleted: its ReplicaSets go with it (ownerReferences)
    try {
      return await this.sync(key, d);
    } catch (e) {
      if (e instanceof ApiError && e.reason === 'Conflict' && !isFenced(e)) {
        this.deps.log?.debug({ deployment: key, err: e.message }, 'deployment: write conflict; retrying');
        return { requeueAfterMs: CONFLICT_RETRY_MS };
      }
      throw e;
    }
  };

  private async sync(key: string, d: KubeObject): Promise<ReconcileResult> {
    let rss = this.replicaSetsOf(d);
    if (await this.claim(d, rss)) rss = this.replicaSetsOf(d);
    let pods: KubeObject[] | undefined;
    if (d.spec?.strategy?.type === 'Recreate') {
      pods = rss.flatMap((rs) =>
        this.deps.pods.byIndex(BY_OWNER, rs.metadata.uid as string).filter((p) => isController(p, rs)),
      );
    }
    let plan: SyncPlan;
    try {
      plan = syncDeployment({ deployment: d, replicaSets: rss, pods, now: this.now() });
    } catch (e) {
      const msg = (e as Error).message;
      void this.deps.recorder.record(d, 'Warning', 'InvalidSpec', msg);
      throw new TerminalError(`deployment ${key}: ${msg}`);
    }
    const stop = await this.execute(d, plan.actions);
    if (stop) return stop;
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : undefined;
  }

  /**
   * Adopts matching orphan ReplicaSets and releases owned ones the selector no longer matches
   * (after re-reading the Deployment from the store: never adopt for one being deleted).
   * True when anything changed.
   */
  private async claim(d: KubeObject, owned: KubeObject[]): Promise<boolean> {
    const ns = d.metadata.namespace as string;
    const orphans = this.deps.replicaSets
      .byIndex(ORPHANS_BY_NAMESPACE, ns)
      .map((rs) => this.replicaSets.get(objectKey(rs)))
      .filter((rs): rs is KubeObject => !!rs);
    const { adopt, release } = claimReplicaSets(d, owned, orphans);
    if (!adopt.length && !release.length) return false;
    const live = await this.deps.store.get(DEPLOYMENT_KIND, ns, d.metadata.name as string);
    if (live.metadata.uid !== d.metadata.uid || live.metadata.deletionTimestamp) return false;
    for (const rs of adopt) {
      const refs = (rs.metadata.ownerReferences ?? []).filter((r) => r.uid !== d.metadata.uid);
      const next = { ...rs, metadata: { ...rs.metadata, ownerReferences: [...refs, ownerReferenceTo(d)] } };
      this.replicaSets.assume(await this.deps.store.update(REPLICASET_KIND, next));
    }
    for (const rs of release) {
      const refs = (rs.metadata.ownerReferences ?? []).filter((r) => r.uid !== d.metadata.uid);
      const meta: ObjectMeta = { ...rs.metadata, ownerReferences: refs };
      if (!refs.length) delete meta.ownerReferences;
      this.replicaSets.assume(await this.deps.store.update(REPLICASET_KIND, { ...rs, metadata: meta }));
    }
    return true;
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** Performs the actions in order; returns a result when the pass must stop early. */
  private async execute(d: KubeObject, actions: Action[]): Promise<ReconcileResult | undefined> {
    const { store } = this.deps;
    let deploy = d;
    const ns = d.metadata.namespace as string;
    // Two writes to one ReplicaSet in one pass: the second builds on the first's revision.
    const written = new Map<string, string>();
    for (const a of actions) {
      switch (a.type) {
        case 'createReplicaSet': {
          const name = a.replicaSet.metadata.name as string;
          try {
            const created = await store.create(REPLICASET_KIND, a.replicaSet);
            this.replicaSets.assume(created);
            written.set(name, created.metadata.resourceVersion as string);
          } catch (e) {
            if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
            return this.onAlreadyExists(deploy, name);
          }
          break;
        }
        case 'updateReplicaSet': {
          const name = a.replicaSet.metadata.name as string;
          const obj = { ...a.replicaSet, metadata: { ...a.replicaSet.metadata } };
          const rv = written.get(name);
          if (rv) obj.metadata.resourceVersion = rv;
          const updated = await store.update(REPLICASET_KIND, obj);
          this.replicaSets.assume(updated);
          written.set(name, updated.metadata.resourceVersion as string);
          break;
        }
        case 'deleteReplicaSet':
          try {
            await store.delete(REPLICASET_KIND, ns, a.name, { preconditions: { uid: a.uid } });
          } catch (e) {
            if (!(e instanceof ApiError && e.code === 404)) throw e;
          }
          break;
        case 'updateDeploymentAnnotations': {
          const next = { ...deploy, metadata: { ...deploy.metadata, annotations: a.annotations } };
          deploy = await store.update(DEPLOYMENT_KIND, next);
          this.deployments.assume(deploy);
          break;
        }
        case 'updateStatus': {
          const next = { ...deploy, status: a.status };
          deploy = await store.update(DEPLOYMENT_KIND, next, { subresource: 'status' });
          this.deployments.assume(deploy);
          break;
        }
      }
      if ('event' in a && a.event) {
        void this.deps.recorder.record(deploy, a.event.type, a.event.reason, a.event.message);
      }
    }
    return undefined;
  }

  /**
   * The new ReplicaSet's name is taken. Ours with this template: we created it and the watch has
   * not shown it yet; plan again with it. Anything else is a hash collision: count it in
   * status.collisionCount, so the next hash differs.
   */
  private async onAlreadyExists(d: KubeObject, name: string): Promise<ReconcileResult> {
    const existing = await this.deps.store.get(REPLICASET_KIND, d.metadata.namespace, name);
    if (isController(existing, d) && equalIgnoreHash(existing.spec?.template, d.spec?.template)) {
      this.replicaSets.assume(existing);
      return { requeueAfterMs: 0 };
    }
    const status = { ...(d.status ?? {}), collisionCount: ((d.status?.collisionCount as number) ?? 0) + 1 };
    const updated = await this.deps.store.update(
      DEPLOYMENT_KIND,
      { ...d, status },
      { subresource: 'status' },
    );
    this.deployments.assume(updated);
    this.deps.log?.warn(
      { deployment: objectKey(d), replicaSet: name, collisionCount: status.collisionCount },
      'deployment: pod-template-hash collision; trying the next hash',
    );
    return { requeueAfterMs: 0 };
  }
}

function isFenced(e: ApiError): boolean {
  return !!e.details?.causes?.some((c) => c.reason === 'Fenced');
}
