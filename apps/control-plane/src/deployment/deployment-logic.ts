/**
 * The Deployment controller's decisions as a pure function (kube-controller-manager's
 * syncDeployment, rewritten): given a Deployment, the ReplicaSets it controls, their pods (only
 * read for Recreate) and the time, the writes of one sync pass, in order. No I/O here: the
 * reconciler performs the actions and stops at the first that fails.
 *
 * One pass does what Kubernetes' does: find (or create) the new ReplicaSet and sync revisions;
 * then either a scaling event (spec.replicas changed: proportional scaling of every active
 * ReplicaSet), a paused Deployment (scaling only, no rollout), Recreate (old to 0, wait for their
 * pods to be gone, then the new one up) or RollingUpdate (new up to replicas + maxSurge, old down
 * while available pods stay ≥ replicas - maxUnavailable); history cleanup once complete; status.
 */
import {
  deepCopy,
  deepEqual,
  matchLabels,
  selectorFromLabelSelectorSpec,
  type KubeObject,
  type OwnerReference,
} from '@berth/api';
import {
  AVAILABLE,
  FOUND_NEW_RS,
  MIN_REPLICAS_AVAILABLE,
  MIN_REPLICAS_UNAVAILABLE,
  NEW_RS_AVAILABLE,
  NEW_RS_CREATED,
  PAUSED,
  POD_TEMPLATE_HASH_LABEL,
  PROGRESSING,
  REPLICA_FAILURE,
  RESUMED,
  REVISION_ANNOTATION,
  RS_UPDATED,
  TIMED_OUT,
  computeHash,
  conditionOf,
  controllerRef,
  deploymentParams,
  desiredReplicasAnnotation,
  equalIgnoreHash,
  maxReplicasAnnotation,
  newCondition,
  removeCondition,
  replicasAnnotationsNeedUpdate,
  revisionOf,
  setCondition,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
  type DeploymentCondition,
  type DeploymentParams,
  type DeploymentStatus,
} from './deployment-util';

/** An Event to record on the Deployment once the action's write succeeded. */
export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export type Action =
  | { type: 'createReplicaSet'; replicaSet: KubeObject; event?: PlannedEvent }
  /** The whole ReplicaSet as it should be (a changed copy of the one read: same resourceVersion). */
  | { type: 'updateReplicaSet'; replicaSet: KubeObject; from: number; event?: PlannedEvent }
  | { type: 'deleteReplicaSet'; name: string; uid: string }
  /** metadata.annotations of the Deployment as they should be (its revision). */
  | { type: 'updateDeploymentAnnotations'; annotations: Record<string, string> }
  | { type: 'updateStatus'; status: DeploymentStatus };

export interface SyncInput {
  deployment: KubeObject;
  /** The ReplicaSets whose controller ownerReference is this Deployment. */
  replicaSets: KubeObject[];
  /** Pods of those ReplicaSets; only Recreate reads them (old pods must be gone first). */
  pods?: KubeObject[];
  now: Date;
}

export interface SyncPlan {
  actions: Action[];
  /** Call again after this long (to notice a progress deadline passing). */
  requeueAfterMs?: number;
}

const spec = (rs: KubeObject | undefined): number => rs?.spec?.replicas ?? 0;
const st = (rs: KubeObject | undefined, f: string): number => (rs?.status?.[f] as number | undefined) ?? 0;
const sum = (rss: (KubeObject | undefined)[], f: (rs: KubeObject) => number): number =>
  rss.reduce((n, rs) => n + (rs ? f(rs) : 0), 0);

function byCreation(a: KubeObject, b: KubeObject): number {
  const ta = String(a.metadata.creationTimestamp ?? '');
  const tb = String(b.metadata.creationTimestamp ?? '');
  if (ta !== tb) return ta < tb ? -1 : 1;
  return String(a.metadata.name) < String(b.metadata.name) ? -1 : 1;
}

/**
 * Pods an old ReplicaSet can still be counted on for: its status.availableReplicas, but never
 * more than spec.replicas (a ReplicaSet just scaled down still reports the pods it is deleting).
 */
const usableAvailable = (rs: KubeObject): number => Math.min(spec(rs), st(rs, 'availableReplicas'));

/** Plans one sync of a Deployment. Throws on a spec it cannot act on (the message names the field). */
export function syncDeployment(input: SyncInput): SyncPlan {
  return new Sync(input).run();
}

class Sync {
  /** Working copy: annotations and status change as the pass goes. */
  private readonly d: KubeObject;
  private readonly status: DeploymentStatus;
  private readonly p: DeploymentParams;
  private rss: KubeObject[];
  private readonly actions: Action[] = [];
  private readonly now: Date;
  private requeueAfterMs?: number;

  constructor(private readonly input: SyncInput) {
    this.d = deepCopy(input.deployment);
    this.d.metadata.annotations = { ...(this.d.metadata.annotations ?? {}) };
    const s = (input.deployment.status ?? {}) as Partial<DeploymentStatus>;
    this.status = {
      observedGeneration: s.observedGeneration ?? 0,
      replicas: s.replicas ?? 0,
      updatedReplicas: s.updatedReplicas ?? 0,
      readyReplicas: s.readyReplicas ?? 0,
      availableReplicas: s.availableReplicas ?? 0,
      unavailableReplicas: s.unavailableReplicas ?? 0,
      conditions: deepCopy(s.conditions ?? []),
      ...(s.collisionCount !== undefined ? { collisionCount: s.collisionCount } : {}),
    };
    this.p = deploymentParams(input.deployment);
    this.rss = input.replicaSets.map((rs) => deepCopy(rs)).sort(byCreation);
    this.now = input.now;
  }

  run(): SyncPlan {
    const d = this.d;
    if (d.metadata.deletionTimestamp) {
      const { newRS, oldRSs } = this.newAndOld(false);
      this.syncDeploymentStatus(newRS, oldRSs);
    } else {
      this.checkPausedConditions();
      if (this.p.paused || this.isScalingEvent()) this.syncScale();
      else if (this.p.rolling) this.rolloutRolling();
      else this.rolloutRecreate();
    }
    this.finish();
    return {
      actions: this.actions,
      ...(this.requeueAfterMs !== undefined ? { requeueAfterMs: this.requeueAfterMs } : {}),
    };
  }

  /** Appends the Deployment writes (annotations, then status) when they changed. */
  private finish(): void {
    const before = this.input.deployment.metadata.annotations ?? {};
    const after = this.d.metadata.annotations ?? {};
    if (!deepEqual(before, after))
      this.actions.push({ type: 'updateDeploymentAnnotations', annotations: after });
    if (!sameStatus(this.input.deployment.status, this.status))
      this.actions.push({ type: 'updateStatus', status: this.status });
  }

  // -------------------------------------------------------------------------------------------
  // ReplicaSets: which is new, revisions, creation

  private replace(rs: KubeObject): void {
    this.rss = this.rss.map((x) => (x.metadata.name === rs.metadata.name ? rs : x));
  }

  /**
   * The ReplicaSet whose template is the Deployment's (ignoring pod-template-hash; the oldest if
   * several) and the others. Gives the new one revision max(old)+1 (a rollback target keeps its
   * old number in revision-history), and the Deployment the new one's revision. Creates the new
   * ReplicaSet when asked and there is none.
   */
  private newAndOld(create: boolean): { newRS?: KubeObject; oldRSs: KubeObject[] } {
    const d = this.d;
    const existing = this.rss.find((rs) => equalIgnoreHash(rs.spec?.template, d.spec?.template));
    const oldRSs = this.rss.filter((rs) => rs !== existing);
    const newRevision = Math.max(0, ...oldRSs.map((rs) => revisionOf(rs))) + 1;
    const desired = this.p.replicas;
    const max = this.p.replicas + this.p.maxSurge;
    if (existing) {
      const copy = deepCopy(existing);
      const annotated = setNewReplicaSetAnnotations(d, copy, newRevision, true, desired, max);
      const minReady = (copy.spec.minReadySeconds ?? 0) !== this.p.minReadySeconds;
      if (annotated || minReady) {
        copy.spec.minReadySeconds = this.p.minReadySeconds;
        this.actions.push({ type: 'updateReplicaSet', replicaSet: copy, from: spec(existing) });
        this.replace(copy);
      }
      this.setDeploymentRevision(copy.metadata.annotations?.[REVISION_ANNOTATION]);
      if (this.p.progressDeadlineSeconds !== undefined && !conditionOf(this.status, PROGRESSING)) {
        setCondition(
          this.status,
          newCondition(
            PROGRESSING,
            'True',
            FOUND_NEW_RS,
            `Found new replica set "${copy.metadata.name}"`,
            this.now,
          ),
        );
      }
      return { newRS: copy, oldRSs };
    }
    if (!create) return { oldRSs };

    const template = deepCopy(d.spec.template ?? {});
    const hash = computeHash(d.spec.template, this.status.collisionCount);
    template.metadata ??= {};
    template.metadata.labels = { ...(template.metadata.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
    const selector = deepCopy(d.spec.selector ?? {});
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
    const name = `${d.metadata.name}-${hash}`;
    const rs: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name,
        namespace: d.metadata.namespace,
        labels: { ...template.metadata.labels },
        annotations: {},
        ownerReferences: [ownerReferenceTo(d)],
      },
      spec: { replicas: 0, minReadySeconds: this.p.minReadySeconds, selector, template },
    };
    rs.spec.replicas = this.newRSReplicas([...oldRSs, rs], rs);
    setNewReplicaSetAnnotations(d, rs, newRevision, false, desired, max);
    const n = spec(rs);
    this.actions.push({
      type: 'createReplicaSet',
      replicaSet: rs,
      ...(n > 0 ? { event: scalingEvent(`Scaled up replica set ${name} to ${n}`) } : {}),
    });
    this.rss = [...this.rss, rs];
    this.setDeploymentRevision(String(newRevision));
    if (this.p.progressDeadlineSeconds !== undefined) {
      setCondition(
        this.status,
        newCondition(PROGRESSING, 'True', NEW_RS_CREATED, `Created new replica set "${name}"`, this.now),
      );
    }
    return { newRS: rs, oldRSs };
  }

  private setDeploymentRevision(revision: string | undefined): void {
    if (revision === undefined) return;
    const ann = this.d.metadata.annotations as Record<string, string>;
    if (ann[REVISION_ANNOTATION] !== revision) ann[REVISION_ANNOTATION] = revision;
  }

  /** How many replicas the new ReplicaSet may have now. */
  private newRSReplicas(allRSs: KubeObject[], newRS: KubeObject): number {
    if (!this.p.rolling) return this.p.replicas;
    const current = sum(allRSs, spec);
    const maxTotal = this.p.replicas + this.p.maxSurge;
    if (current >= maxTotal) return spec(newRS);
    const up = Math.min(maxTotal - current, this.p.replicas - spec(newRS));
    return spec(newRS) + Math.max(0, up);
  }

  // -------------------------------------------------------------------------------------------
  // Scaling

  /** Sets a ReplicaSet's size (and desired/max annotations); true when its size changed. */
  private scaleReplicaSet(rs: KubeObject, to: number, forceAnnotations = false): boolean {
    const from = spec(rs);
    const desired = this.p.replicas;
    const max = this.p.replicas + this.p.maxSurge;
    const sizeChanged = from !== to;
    if (!sizeChanged && !forceAnnotations) return false;
    if (!sizeChanged && !replicasAnnotationsNeedUpdate(rs, desired, max)) return false;
    const copy = deepCopy(rs);
    copy.spec.replicas = to;
    setReplicasAnnotations(copy, desired, max);
    const name = String(rs.metadata.name);
    this.actions.push({
      type: 'updateReplicaSet',
      replicaSet: copy,
      from,
      ...(sizeChanged
        ? {
            event: scalingEvent(
              `Scaled ${from < to ? 'up' : 'down'} replica set ${name} to ${to} from ${from}`,
            ),
          }
        : {}),
    });
    this.replace(copy);
    return sizeChanged;
  }

  /** A ReplicaSet that is active (and not the new one at the right size) has another desired size. */
  private isScalingEvent(): boolean {
    const { newRS, oldRSs } = this.peekNewAndOld();
    for (const rs of [...oldRSs, newRS]) {
      if (!rs || spec(rs) === 0) continue;
      const desired = desiredReplicasAnnotation(rs);
      if (desired !== undefined && desired !== this.p.replicas) return true;
    }
    return false;
  }

  private peekNewAndOld(): { newRS?: KubeObject; oldRSs: KubeObject[] } {
    const newRS = this.rss.find((rs) => equalIgnoreHash(rs.spec?.template, this.d.spec?.template));
    return { newRS, oldRSs: this.rss.filter((rs) => rs !== newRS) };
  }

  /** Paused or scaled: resize without rolling out (Kubernetes' proportional scaling). */
  private syncScale(): void {
    const { newRS, oldRSs } = this.newAndOld(false);
    this.scale(newRS, oldRSs);
    const cur = this.current(newRS, oldRSs);
    if (this.p.paused) this.cleanup(cur.oldRSs);
    this.syncDeploymentStatus(cur.newRS, cur.oldRSs);
  }

  /** The working copies of newRS/oldRSs after earlier actions replaced them. */
  private current(
    newRS: KubeObject | undefined,
    oldRSs: KubeObject[],
  ): { newRS?: KubeObject; oldRSs: KubeObject[] } {
    const get = (rs: KubeObject) => this.rss.find((x) => x.metadata.name === rs.metadata.name) ?? rs;
    return { newRS: newRS && get(newRS), oldRSs: oldRSs.map(get) };
  }

  private scale(newRS: KubeObject | undefined, oldRSs: KubeObject[]): void {
    const replicas = this.p.replicas;
    const active = [...oldRSs, ...(newRS ? [newRS] : [])].filter((rs) => spec(rs) > 0);
    // One active ReplicaSet (or none: the newest) takes the whole count.
    if (active.length <= 1) {
      const target = active[0] ?? newRS ?? [...oldRSs].sort(byCreation).at(-1);
      if (target) this.scaleReplicaSet(target, replicas, true);
      return;
    }
    // A saturated new ReplicaSet: the old ones go to 0.
    if (
      newRS &&
      desiredReplicasAnnotation(newRS) === replicas &&
      st(newRS, 'availableReplicas') === replicas &&
      spec(newRS) === replicas
    ) {
      for (const rs of oldRSs) if (spec(rs) > 0) this.scaleReplicaSet(rs, 0);
      return;
    }
    if (!this.p.rolling) return;
    // Spread the difference over the active ReplicaSets in proportion to their size.
    const allowed = replicas > 0 ? replicas + this.p.maxSurge : 0;
    const toAdd = allowed - sum(active, spec);
    if (toAdd > 0) active.sort((a, b) => spec(b) - spec(a) || -byCreation(a, b));
    else if (toAdd < 0) active.sort((a, b) => spec(b) - spec(a) || byCreation(a, b));
    let added = 0;
    const sizes = new Map<KubeObject, number>();
    for (const rs of active) {
      if (toAdd !== 0) {
        const share = this.proportion(rs, toAdd, added);
        sizes.set(rs, spec(rs) + share);
        added += share;
      } else sizes.set(rs, spec(rs));
    }
    active.forEach((rs, i) => {
      let size = sizes.get(rs) as number;
      if (i === 0 && toAdd !== 0) size = Math.max(0, size + toAdd - added);
      this.scaleReplicaSet(rs, size, true);
    });
  }

  private proportion(rs: KubeObject, toAdd: number, added: number): number {
    if (spec(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
    let fraction: number;
    if (this.p.replicas === 0) fraction = -spec(rs);
    else {
      const maxNow = this.p.replicas + this.p.maxSurge;
      let maxBefore = maxReplicasAnnotation(rs);
      if (!maxBefore) maxBefore = this.status.replicas || maxNow;
      fraction = Math.round((spec(rs) * maxNow) / maxBefore) - spec(rs);
    }
    const allowed = toAdd - added;
    return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
  }

  // -------------------------------------------------------------------------------------------
  // Strategies

  private rolloutRolling(): void {
    const { newRS, oldRSs } = this.newAndOld(true);
    const nrs = newRS as KubeObject;
    if (this.reconcileNewReplicaSet(nrs, oldRSs)) return this.syncRolloutStatus();
    const cur = this.current(nrs, oldRSs);
    if (this.reconcileOldReplicaSets(cur.newRS as KubeObject, cur.oldRSs)) return this.syncRolloutStatus();
    if (this.complete(this.status)) this.cleanup(cur.oldRSs);
    this.syncRolloutStatus();
  }

  private reconcileNewReplicaSet(newRS: KubeObject, oldRSs: KubeObject[]): boolean {
    const replicas = this.p.replicas;
    if (spec(newRS) === replicas) return false;
    if (spec(newRS) > replicas) return this.scaleReplicaSet(newRS, replicas);
    return this.scaleReplicaSet(newRS, this.newRSReplicas([...oldRSs, newRS], newRS));
  }

  private reconcileOldReplicaSets(newRS: KubeObject, oldRSs: KubeObject[]): boolean {
    if (sum(oldRSs, spec) === 0) return false;
    const minAvailable = this.p.replicas - this.p.maxUnavailable;
    const allPods = sum([...oldRSs, newRS], spec);
    const newUnavailable = Math.max(0, spec(newRS) - st(newRS, 'availableReplicas'));
    const maxScaledDown = allPods - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;
    // Unhealthy old replicas go first: they count for nothing and would block the rollout.
    let cleaned = 0;
    for (const rs of [...oldRSs].sort(byCreation)) {
      if (cleaned >= maxScaledDown) break;
      const unhealthy = Math.max(0, spec(rs) - st(rs, 'availableReplicas'));
      if (spec(rs) === 0 || unhealthy === 0) continue;
      const n = Math.min(maxScaledDown - cleaned, unhealthy);
      this.scaleReplicaSet(rs, spec(rs) - n);
      cleaned += n;
    }
    const cur = this.current(newRS, oldRSs);
    // Then healthy ones, as far as availability allows (oldest first).
    const available = sum([...cur.oldRSs, cur.newRS], usableAvailable);
    let scaled = 0;
    if (available > minAvailable) {
      const total = available - minAvailable;
      for (const rs of [...cur.oldRSs].sort(byCreation)) {
        if (scaled >= total) break;
        if (spec(rs) === 0) continue;
        const n = Math.min(spec(rs), total - scaled);
        this.scaleReplicaSet(rs, spec(rs) - n);
        scaled += n;
      }
    }
    return cleaned + scaled > 0;
  }

  private rolloutRecreate(): void {
    let { newRS, oldRSs } = this.newAndOld(false);
    let scaledDown = false;
    for (const rs of oldRSs) if (spec(rs) > 0 && this.scaleReplicaSet(rs, 0)) scaledDown = true;
    if (scaledDown) return this.syncRolloutStatus();
    if (this.oldPodsRunning(newRS, oldRSs)) return this.syncRolloutStatus();
    if (!newRS) ({ newRS, oldRSs } = this.newAndOld(true));
    const cur = this.current(newRS, oldRSs);
    this.scaleReplicaSet(cur.newRS as KubeObject, this.p.replicas);
    if (this.complete(this.status)) this.cleanup(cur.oldRSs);
    this.syncRolloutStatus();
  }

  private oldPodsRunning(newRS: KubeObject | undefined, oldRSs: KubeObject[]): boolean {
    if (sum(oldRSs, (rs) => st(rs, 'replicas')) > 0) return true;
    const oldUids = new Set(oldRSs.map((rs) => rs.metadata.uid));
    return (this.input.pods ?? []).some((pod) => {
      const owner = controllerRef(pod)?.uid;
      if (!owner || owner === newRS?.metadata.uid || !oldUids.has(owner)) return false;
      const phase = pod.status?.phase;
      return phase !== 'Succeeded' && phase !== 'Failed';
    });
  }

  /** Deletes the oldest old ReplicaSets (by revision) beyond revisionHistoryLimit that have no pods. */
  private cleanup(oldRSs: KubeObject[]): void {
    const alive = oldRSs.filter((rs) => !rs.metadata.deletionTimestamp);
    const diff = alive.length - this.p.revisionHistoryLimit;
    if (diff <= 0) return;
    const byRevision = [...alive].sort((a, b) => revisionOf(a) - revisionOf(b) || byCreation(a, b));
    for (const rs of byRevision.slice(0, diff)) {
      const stale = (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0);
      if (st(rs, 'replicas') !== 0 || spec(rs) !== 0 || stale) continue;
      this.actions.push({
        type: 'deleteReplicaSet',
        name: String(rs.metadata.name),
        uid: String(rs.metadata.uid),
      });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Status

  private checkPausedConditions(): void {
    if (this.p.progressDeadlineSeconds === undefined) return;
    const cond = conditionOf(this.status, PROGRESSING);
    if (cond?.reason === TIMED_OUT) return;
    const pausedCond = cond?.reason === PAUSED;
    if (this.p.paused && !pausedCond)
      setCondition(
        this.status,
        newCondition(PROGRESSING, 'Unknown', PAUSED, 'Deployment is paused', this.now),
      );
    else if (!this.p.paused && pausedCond)
      setCondition(
        this.status,
        newCondition(PROGRESSING, 'Unknown', RESUMED, 'Deployment is resumed', this.now),
      );
  }

  /** Counts and the Available condition from the ReplicaSets as they are now. */
  private calculateStatus(): DeploymentStatus {
    const { newRS } = this.peekNewAndOld();
    const all = this.rss;
    const available = sum(all, (rs) => st(rs, 'availableReplicas'));
    const s: DeploymentStatus = {
      observedGeneration: this.d.metadata.generation ?? 0,
      replicas: sum(all, (rs) => st(rs, 'replicas')),
      updatedReplicas: st(newRS, 'replicas'),
      readyReplicas: sum(all, (rs) => st(rs, 'readyReplicas')),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, sum(all, spec) - available),
      conditions: [...this.status.conditions],
      ...(this.status.collisionCount !== undefined ? { collisionCount: this.status.collisionCount } : {}),
    };
    if (available >= this.p.replicas - this.p.maxUnavailable)
      setCondition(
        s,
        newCondition(
          AVAILABLE,
          'True',
          MIN_REPLICAS_AVAILABLE,
          'Deployment has minimum availability.',
          this.now,
        ),
      );
    else
      setCondition(
        s,
        newCondition(
          AVAILABLE,
          'False',
          MIN_REPLICAS_UNAVAILABLE,
          'Deployment does not have minimum availability.',
          this.now,
        ),
      );
    return s;
  }

  private adopt(s: DeploymentStatus): void {
    Object.assign(this.status, s);
    if (s.collisionCount === undefined) delete this.status.collisionCount;
  }

  private syncDeploymentStatus(_newRS: KubeObject | undefined, _oldRSs: KubeObject[]): void {
    this.adopt(this.calculateStatus());
  }

  private complete(s: DeploymentStatus): boolean {
    const r = this.p.replicas;
    return (
      s.updatedReplicas === r &&
      s.replicas === r &&
      s.availableReplicas === r &&
      s.observedGeneration >= (this.d.metadata.generation ?? 0)
    );
  }

  /** Status plus the Progressing condition (progress, completion, deadline) and ReplicaFailure. */
  private syncRolloutStatus(): void {
    const { newRS, oldRSs } = this.peekNewAndOld();
    const prev = { ...this.status, conditions: [...this.status.conditions] };
    const s = this.calculateStatus();
    const deadline = this.p.progressDeadlineSeconds;
    if (deadline === undefined) removeCondition(s, PROGRESSING);
    const cur = conditionOf(prev, PROGRESSING);
    const completeBefore = s.replicas === s.updatedReplicas && cur?.reason === NEW_RS_AVAILABLE;
    const rsName = newRS?.metadata.name;
    if (deadline !== undefined && !completeBefore) {
      if (this.complete(s)) {
        setCondition(
          s,
          newCondition(
            PROGRESSING,
            'True',
            NEW_RS_AVAILABLE,
            rsName
              ? `ReplicaSet "${rsName}" has successfully progressed.`
              : `Deployment "${this.d.metadata.name}" has successfully progressed.`,
            this.now,
          ),
        );
      } else if (progressed(prev, s)) {
        const c = newCondition(
          PROGRESSING,
          'True',
          RS_UPDATED,
          rsName
            ? `ReplicaSet "${rsName}" is progressing.`
            : `Deployment "${this.d.metadata.name}" is progressing.`,
          this.now,
        );
        // Progress refreshes lastUpdateTime even when the reason stays the same.
        if (cur?.status === 'True') c.lastTransitionTime = cur.lastTransitionTime;
        removeCondition(s, PROGRESSING);
        setCondition(s, c);
      } else if (this.timedOut(s, deadline)) {
        setCondition(
          s,
          newCondition(
            PROGRESSING,
            'False',
            TIMED_OUT,
            rsName
              ? `ReplicaSet "${rsName}" has timed out progressing.`
              : `Deployment "${this.d.metadata.name}" has timed out progressing.`,
            this.now,
          ),
        );
      }
    }
    const failure = replicaFailure(newRS, oldRSs);
    if (failure) setCondition(s, { ...failure, lastUpdateTime: failure.lastTransitionTime });
    else removeCondition(s, REPLICA_FAILURE);
    this.adopt(s);
    this.requeueAfterMs = this.stuckRequeue(s, deadline);
  }

  private timedOut(s: DeploymentStatus, deadline: number): boolean {
    const c = conditionOf(s, PROGRESSING);
    if (!c || c.reason === NEW_RS_AVAILABLE) return false;
    if (c.reason === TIMED_OUT) return true;
    return Date.parse(c.lastUpdateTime) + deadline * 1000 < this.now.getTime();
  }

  /** When an unfinished rollout should be looked at again to notice its deadline passing. */
  private stuckRequeue(s: DeploymentStatus, deadline: number | undefined): number | undefined {
    const c = conditionOf(s, PROGRESSING);
    if (deadline === undefined || !c || this.complete(s) || c.reason === TIMED_OUT) return undefined;
    if (c.reason === NEW_RS_AVAILABLE) return undefined;
    const after = Date.parse(c.lastUpdateTime) + deadline * 1000 - this.now.getTime();
    return Math.max(after, 0) + 1000;
  }
}

function scalingEvent(message: string): PlannedEvent {
  return { type: 'Normal', reason: 'ScalingReplicaSet', message };
}

/** Any of the counts rollout status follows moved the right way. */
function progressed(prev: DeploymentStatus, s: DeploymentStatus): boolean {
  return (
    s.updatedReplicas > prev.updatedReplicas ||
    s.replicas - s.updatedReplicas < prev.replicas - prev.updatedReplicas ||
    s.readyReplicas > prev.readyReplicas ||
    s.availableReplicas > prev.availableReplicas
  );
}

/** A ReplicaFailure condition of the new ReplicaSet (else of an old one), copied to the Deployment. */
function replicaFailure(
  newRS: KubeObject | undefined,
  oldRSs: KubeObject[],
): DeploymentCondition | undefined {
  for (const rs of [newRS, ...oldRSs]) {
    const c = (rs?.status?.conditions as Partial<DeploymentCondition>[] | undefined)?.find(
      (x) => x.type === REPLICA_FAILURE,
    );
    if (c && c.status) {
      return {
        type: REPLICA_FAILURE,
        status: c.status,
        reason: c.reason ?? '',
        message: c.message ?? '',
        lastTransitionTime: c.lastTransitionTime ?? '',
        lastUpdateTime: c.lastTransitionTime ?? '',
      };
    }
  }
  return undefined;
}

/** Whether the stored status already says exactly this (so nothing is written). */
function sameStatus(stored: unknown, next: DeploymentStatus): boolean {
  return deepEqual((stored ?? {}) as never, JSON.parse(JSON.stringify(next)) as never);
}

/**
 * Which ReplicaSets a Deployment takes over and lets go (Kubernetes' ClaimReplicaSets): orphans
 * (no controller) its selector matches are adopted; ReplicaSets it controls whose labels its
 * selector no longer matches are released. None while the Deployment is being deleted.
 */
export function claimReplicaSets(
  d: KubeObject,
  owned: KubeObject[],
  orphans: KubeObject[],
): { adopt: KubeObject[]; release: KubeObject[] } {
  if (d.metadata.deletionTimestamp) return { adopt: [], release: [] };
  const sel = selectorFromLabelSelectorSpec(d.spec?.selector);
  if (!sel.requirements.length) return { adopt: [], release: [] };
  const adopt = orphans.filter(
    (rs) => !controllerRef(rs) && !rs.metadata.deletionTimestamp && matchLabels(sel, rs.metadata.labels),
  );
  const release = owned.filter((rs) => !matchLabels(sel, rs.metadata.labels));
  return { adopt, release };
}

/** The controller ownerReference a Deployment puts on its ReplicaSets. */
export function ownerReferenceTo(d: KubeObject): OwnerReference {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    name: d.metadata.name as string,
    uid: d.metadata.uid as string,
    controller: true,
    blockOwnerDeletion: true,
  };
}
