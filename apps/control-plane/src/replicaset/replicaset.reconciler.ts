/**
 * The ReplicaSet reconciler, without Nest: reads the ReplicaSet and its pods from the shared
 * informers, claims pods (adopt / release), creates or deletes pods as replicaset-logic decides
 * (guarded by expectations), records events and writes status. replicaset.controller.ts wires it
 * into the control plane; the spec drives it with seeded informers and a recording store.
 */
import {
  ApiError,
  kindFor,
  matchLabels,
  validate,
  type KindInfo,
  type KubeObject,
  type LabelSelector,
} from '@berth/api';
import {
  BY_OWNER,
  TerminalError,
  objectKey,
  type EventRecorder,
  type Informer,
  type ReconcileResult,
  type Watch,
} from '@berth/controllers';
import type { ResourceStore } from '@berth/store';
import { EXPECTATIONS_TIMEOUT_MS, Expectations } from './expectations';
import {
  BURST_REPLICAS,
  claimPods,
  computeStatus,
  controllerRef,
  controllingReplicaSetKey,
  decideReplicas,
  ownerRefFor,
  podFromTemplate,
  rsSelector,
  slowStartBatches,
  statusUnchanged,
  templateMatchesSelector,
  type ManageFailure,
  type ReplicaSetStatus,
} from './replicaset-logic';

export const PODS = kindFor('v1', 'Pod') as KindInfo;
export const REPLICASETS = kindFor('apps/v1', 'ReplicaSet') as KindInfo;

/** Pod index: namespace → pods without a controller (candidates for adoption). */
export const ORPHANS_BY_NAMESPACE = 'replicaset:orphans-by-namespace';
/** ReplicaSet index: namespace → ReplicaSets. */
export const RS_BY_NAMESPACE = 'replicaset:by-namespace';

export interface ReconcilerLog {
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
  debug(o: object, msg: string): void;
}

export interface ReplicaSetReconcilerOptions {
  replicaSets: Informer;
  pods: Informer;
  /** The fenced controller store: every write goes through it. */
  store: ResourceStore;
  events: Pick<EventRecorder, 'record'>;
  log?: ReconcilerLog;
  now?: () => number;
  /** Most creates or deletes per reconcile (default 500). */
  burst?: number;
  /** Most store calls in flight per reconcile (default 64). */
  concurrency?: number;
  expectationsTimeoutMs?: number;
}

const SILENT: ReconcilerLog = { info() {}, warn() {}, debug() {} };

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isCode(e: unknown, ...codes: number[]): boolean {
  return e instanceof ApiError && codes.includes(e.code);
}

/** What creating or deleting pods ended with. */
interface ManageOutcome {
  failure?: ManageFailure;
  error?: Error;
}

export class ReplicaSetReconciler {
  readonly expectations: Expectations;
  private readonly rs: Informer;
  private readonly pods: Informer;
  private readonly store: ResourceStore;
  private readonly events: Pick<EventRecorder, 'record'>;
  private readonly log: ReconcilerLog;
  private readonly now: () => number;
  private readonly burst: number;
  private readonly concurrency: number;

  constructor(o: ReplicaSetReconcilerOptions) {
    this.rs = o.replicaSets;
    this.pods = o.pods;
    this.store = o.store;
    this.events = o.events;
    this.log = o.log ?? SILENT;
    this.now = o.now ?? Date.now;
    this.burst = o.burst ?? BURST_REPLICAS;
    this.concurrency = o.concurrency ?? 64;
    this.expectations = new Expectations(this.now, o.expectationsTimeoutMs ?? EXPECTATIONS_TIMEOUT_MS);
    this.pods.addIndex(ORPHANS_BY_NAMESPACE, (p) =>
      controllerRef(p) ? [] : [p.metadata.namespace ?? 'default'],
    );
    this.rs.addIndex(RS_BY_NAMESPACE, (r) => [r.metadata.namespace ?? 'default']);
  }

  /**
   * Starts observing what the informers deliver for the expectations (starting empty). Call it
   * before runReconciler registers its handlers, so a pod's event lowers the expectation before
   * the reconcile it triggers reads it. Returns the function that stops observing.
   */
  attach(): () => void {
    this.expectations.clear();
    const offPods = this.pods.addHandler({
      add: (p) => {
        const k = controllingReplicaSetKey(p);
        if (!k) return;
        if (p.metadata.deletionTimestamp) this.expectations.deletionObserved(k, p.metadata.uid as string);
        else this.expectations.creationObserved(k);
      },
      update: (old, cur) => {
        if (!cur.metadata.deletionTimestamp || old.metadata.deletionTimestamp) return;
        const k = controllingReplicaSetKey(cur);
        if (k) this.expectations.deletionObserved(k, cur.metadata.uid as string);
      },
      delete: (p) => {
        const k = controllingReplicaSetKey(p);
        if (k) this.expectations.deletionObserved(k, p.metadata.uid as string);
      },
    });
    const offRs = this.rs.addHandler({ delete: (r) => this.expectations.delete(objectKey(r)) });
    return () => {
      offPods();
      offRs();
    };
  }

  /** The informers to follow and how their objects map to ReplicaSet keys. */
  watches(): Watch[] {
    return [
      { informer: this.rs, keys: (r) => [objectKey(r)] },
      { informer: this.pods, keys: (p) => this.keysForPod(p) },
    ];
  }

  /** The controlling ReplicaSet; for an orphan, every ReplicaSet of its namespace that selects it. */
  keysForPod(pod: KubeObject): string[] {
    const k = controllingReplicaSetKey(pod);
    if (k) return [k];
    if (controllerRef(pod) || pod.metadata.deletionTimestamp) return [];
    const out: string[] = [];
    for (const rs of this.rs.byIndex(RS_BY_NAMESPACE, pod.metadata.namespace ?? 'default')) {
      let sel: LabelSelector;
      try {
        sel = rsSelector(rs);
      } catch {
        continue;
      }
      if (matchLabels(sel, pod.metadata.labels)) out.push(objectKey(rs));
    }
    return out;
  }

  async reconcile(key: string, signal?: AbortSignal): Promise<ReconcileResult> {
    const rs = this.rs.get(key);
    if (!rs) {
      this.expectations.delete(key);
      return;
    }
    const uid = rs.metadata.uid as string;
    const ns = rs.metadata.namespace ?? 'default';
    // Read expectations and the cache in one synchronous step: what the cache shows is what
    // the expectations were checked against.
    const needsSync = this.expectations.satisfied(key, uid);
    let selector: LabelSelector;
    try {
      selector = rsSelector(rs);
    } catch (e) {
      throw new TerminalError(`ReplicaSet ${key}: spec.selector: ${errMessage(e)}`);
    }
    const candidates = [...this.pods.byIndex(BY_OWNER, uid), ...this.pods.byIndex(ORPHANS_BY_NAMESPACE, ns)];
    const claim = claimPods(rs, candidates, selector);
    const owned = [...claim.owned];
    if (claim.adopt.length) owned.push(...(await this.adopt(rs, claim.adopt)));
    if (claim.release.length) await this.release(rs, claim.release);

    let outcome: ManageOutcome = {};
    if (needsSync && !rs.metadata.deletionTimestamp && !signal?.aborted) {
      const actions = decideReplicas(rs, owned, this.burst);
      if (actions.create > 0) outcome = await this.createPods(key, rs, actions.create, selector, signal);
      else if (actions.delete.length) outcome = await this.deletePods(key, rs, actions.delete, signal);
    }

    const now = this.now();
    const { status, nextAvailableAt } = computeStatus(rs, owned, now, outcome.failure);
    if (!statusUnchanged(rs, status)) await this.writeStatus(rs, status);
    if (outcome.error) throw outcome.error;

    let requeue: number | undefined;
    if (nextAvailableAt !== undefined) requeue = Math.max(1, nextAvailableAt - now + 5);
    if (!needsSync) {
      const exp = this.expectations.expiresInMs(key);
      if (exp !== undefined) requeue = Math.min(requeue ?? Infinity, exp + 5);
    }
    return requeue === undefined ? undefined : { requeueAfterMs: requeue };
  }

  /** Makes this ReplicaSet the controller of matching orphans; returns the pods it now owns. */
  private async adopt(rs: KubeObject, orphans: KubeObject[]): Promise<KubeObject[]> {
    // As Kubernetes: check with an uncached read that the ReplicaSet is still there and not
    // being deleted before adopting anything.
    let fresh: KubeObject;
    try {
      fresh = await this.store.get(REPLICASETS, rs.metadata.namespace, rs.metadata.name as string);
    } catch (e) {
      if (isCode(e, 404)) return [];
      throw e;
    }
    if (fresh.metadata.uid !== rs.metadata.uid || fresh.metadata.deletionTimestamp) return [];
    const adopted: KubeObject[] = [];
    await forEachLimit(orphans, this.concurrency, async (pod) => {
      const next: KubeObject = {
        ...pod,
        metadata: {
          ...pod.metadata,
          // A non-controller reference to this ReplicaSet is replaced (references merge by uid).
          ownerReferences: [
            ...(pod.metadata.ownerReferences ?? []).filter((r) => r.uid !== rs.metadata.uid),
            ownerRefFor(rs),
          ],
        },
      };
      try {
        adopted.push(await this.store.update(PODS, next));
        this.log.info({ replicaset: objectKey(rs), pod: pod.metadata.name }, 'adopted orphan pod');
      } catch (e) {
        // Changed or gone meanwhile: its event brings this ReplicaSet back.
        if (!isCode(e, 404, 409)) throw e;
      }
    });
    return adopted;
  }

  /** Removes this ReplicaSet's reference from pods whose labels no longer match its selector. */
  private async release(rs: KubeObject, pods: KubeObject[]): Promise<void> {
    await forEachLimit(pods, this.concurrency, async (pod) => {
      const refs = (pod.metadata.ownerReferences ?? []).filter((r) => r.uid !== rs.metadata.uid);
      const metadata: KubeObject['metadata'] = { ...pod.metadata, ownerReferences: refs };
      if (!refs.length) delete metadata.ownerReferences;
      try {
        await this.store.update(PODS, { ...pod, metadata });
        this.log.info(
          { replicaset: objectKey(rs), pod: pod.metadata.name },
          'released pod that no longer matches',
        );
      } catch (e) {
        if (!isCode(e, 404, 409)) throw e;
      }
    });
  }

  /**
   * Creates n pods from the template in slow-start batches (1, 2, 4, ...), each with bounded
   * concurrency; the first batch with a failure ends the round, and the creates never issued are
   * taken off the expectations.
   */
  private async createPods(
    key: string,
    rs: KubeObject,
    n: number,
    selector: LabelSelector,
    signal?: AbortSignal,
  ): Promise<ManageOutcome> {
    const uid = rs.metadata.uid as string;
    if (!templateMatchesSelector(rs, selector)) {
      const message =
        'Error creating: spec.template.metadata.labels do not match spec.selector: the pods would not be counted';
      void this.events.record(rs, 'Warning', 'FailedCreate', message);
      return {
        failure: { reason: 'FailedCreate', message },
        error: new TerminalError(`ReplicaSet ${key}: ${message}`),
      };
    }
    const template = podFromTemplate(rs);
    const causes = validate(template);
    if (causes.length) {
      const detail = causes.map(
        (c) => `${(c.field ?? '').replace(/^spec\b/, 'spec.template.spec')}: ${c.message}`,
      );
      const message = `Error creating: Pod "${template.metadata.generateName}" is invalid: ${detail.join('; ')}`;
      void this.events.record(rs, 'Warning', 'FailedCreate', message);
      return {
        failure: { reason: 'FailedCreate', message },
        error: new TerminalError(`ReplicaSet ${key}: ${message}`),
      };
    }
    this.expectations.expectCreations(key, uid, n);
    let issued = 0;
    let firstError: unknown;
    for (const size of slowStartBatches(n)) {
      if (signal?.aborted) break;
      issued += size;
      await forEachLimit(
        Array.from({ length: size }, (_, i) => i),
        this.concurrency,
        async () => {
          try {
            const pod = await this.store.create(PODS, { ...template, metadata: { ...template.metadata } });
            void this.events.record(rs, 'Normal', 'SuccessfulCreate', `Created pod: ${pod.metadata.name}`);
          } catch (e) {
            this.expectations.creationObserved(key);
            firstError ??= e;
            void this.events.record(rs, 'Warning', 'FailedCreate', `Error creating: ${errMessage(e)}`);
          }
        },
      );
      if (firstError !== undefined) break;
    }
    if (issued < n) this.expectations.creationObserved(key, n - issued);
    if (firstError === undefined) return {};
    const message = `Error creating: ${errMessage(firstError)}`;
    this.log.warn({ replicaset: key, err: errMessage(firstError) }, 'creating pods failed');
    return {
      failure: { reason: 'FailedCreate', message },
      error: new Error(`ReplicaSet ${key}: ${message}`),
    };
  }

  /** Deletes these pods (uid preconditions), with bounded concurrency. */
  private async deletePods(
    key: string,
    rs: KubeObject,
    pods: KubeObject[],
    signal?: AbortSignal,
  ): Promise<ManageOutcome> {
    const uid = rs.metadata.uid as string;
    this.expectations.expectDeletions(
      key,
      uid,
      pods.map((p) => p.metadata.uid as string),
    );
    let firstError: unknown;
    await forEachLimit(pods, this.concurrency, async (pod) => {
      const podUid = pod.metadata.uid as string;
      if (signal?.aborted) {
        this.expectations.deletionObserved(key, podUid);
        return;
      }
      try {
        await this.store.delete(PODS, pod.metadata.namespace, pod.metadata.name as string, {
          preconditions: { uid: podUid },
        });
        void this.events.record(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
      } catch (e) {
        this.expectations.deletionObserved(key, podUid);
        if (isCode(e, 404)) return; // already gone
        firstError ??= e;
        void this.events.record(rs, 'Warning', 'FailedDelete', `Error deleting: ${errMessage(e)}`);
      }
    });
    if (firstError === undefined) return {};
    const message = `Error deleting: ${errMessage(firstError)}`;
    this.log.warn({ replicaset: key, err: errMessage(firstError) }, 'deleting pods failed');
    return {
      failure: { reason: 'FailedDelete', message },
      error: new Error(`ReplicaSet ${key}: ${message}`),
    };
  }

  /** Writes status through the status subresource, compare-and-swap on the cached version. */
  private async writeStatus(rs: KubeObject, status: ReplicaSetStatus): Promise<void> {
    try {
      await this.store.update(
        REPLICASETS,
        { ...rs, metadata: { ...rs.metadata }, status },
        { subresource: 'status' },
      );
    } catch (e) {
      // A newer version (its event requeues this ReplicaSet) or the ReplicaSet is gone.
      if (isCode(e, 404, 409)) {
        this.log.debug({ replicaset: objectKey(rs), err: errMessage(e) }, 'status not written');
        return;
      }
      throw e;
    }
  }
}
