/**
 * The ReplicaSet controller's decisions as pure functions of (ReplicaSet, pods, now): which pods
 * it claims (adopt / release), how many pods to create, which to delete, and the status to write.
 * No I/O here; replicaset.reconciler.ts performs what these return.
 */
import {
  applyDefaults,
  matchLabels,
  selectorFromLabelSelectorSpec,
  type KubeObject,
  type LabelSelector,
  type OwnerReference,
} from '@berth/api';
import { isPodActive, isPodReady, podAvailableAt, podReadyCondition } from './pod-utils';

/** At most this many creates or deletes per reconcile (kube-controller-manager's burstReplicas). */
export const BURST_REPLICAS = 500;

export const RS_API_VERSION = 'apps/v1';
export const RS_KIND = 'ReplicaSet';

export interface ReplicaSetCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface ReplicaSetStatus {
  replicas: number;
  fullyLabeledReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  observedGeneration?: number;
  conditions?: ReplicaSetCondition[];
}

/** The fields of a ReplicaSet spec this controller reads. */
interface RsSpec {
  replicas?: number;
  minReadySeconds?: number;
  selector?: Parameters<typeof selectorFromLabelSelectorSpec>[0];
  template?: {
    metadata?: {
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
      finalizers?: string[];
    };
    spec?: unknown;
  };
}

function specOf(rs: KubeObject): RsSpec {
  return (rs.spec ?? {}) as RsSpec;
}

export function desiredReplicas(rs: KubeObject): number {
  return specOf(rs).replicas ?? 1;
}

export function minReadySecondsOf(rs: KubeObject): number {
  return specOf(rs).minReadySeconds ?? 0;
}

/** The ownerReference with controller: true, if any. */
export function controllerRef(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

/** The ownerReference a ReplicaSet puts on the pods it controls. */
export function ownerRefFor(rs: KubeObject): OwnerReference {
  return {
    apiVersion: RS_API_VERSION,
    kind: RS_KIND,
    name: rs.metadata.name as string,
    uid: rs.metadata.uid as string,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The key (ns/name) of the ReplicaSet controlling this object, if a ReplicaSet controls it. */
export function controllingReplicaSetKey(obj: KubeObject): string | undefined {
  const ref = controllerRef(obj);
  if (!ref || ref.kind !== RS_KIND || ref.apiVersion.split('/')[0] !== 'apps') return undefined;
  return `${obj.metadata.namespace}/${ref.name}`;
}

/** The ReplicaSet's selector; throws ApiError BadRequest on an impossible operator. */
export function rsSelector(rs: KubeObject): LabelSelector {
  return selectorFromLabelSelectorSpec(specOf(rs).selector);
}

export interface ClaimResult {
  /** Pods this ReplicaSet controls and whose labels match its selector. */
  owned: KubeObject[];
  /** Orphans that match: to be given this ReplicaSet as controller. */
  adopt: KubeObject[];
  /** Controlled pods whose labels no longer match: to have the reference removed. */
  release: KubeObject[];
}

/**
 * Kubernetes' ControllerRefManager.ClaimPods over candidate pods (those controlled by this RS and
 * orphans of its namespace): keep matching controlled pods, adopt matching orphans (not when the RS
 * or the pod is being deleted), release controlled pods that stopped matching (not when being
 * deleted). Pods controlled by anything else are left alone.
 */
export function claimPods(rs: KubeObject, candidates: KubeObject[], selector = rsSelector(rs)): ClaimResult {
  const out: ClaimResult = { owned: [], adopt: [], release: [] };
  const uid = rs.metadata.uid;
  const seen = new Set<string>();
  for (const pod of candidates) {
    if (pod.metadata.namespace !== rs.metadata.namespace) continue;
    const pid = pod.metadata.uid ?? `${pod.metadata.name}`;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const ref = controllerRef(pod);
    const matches = matchLabels(selector, pod.metadata.labels);
    if (ref) {
      if (ref.uid !== uid) continue;
      if (matches) out.owned.push(pod);
      else if (!pod.metadata.deletionTimestamp) out.release.push(pod);
      continue;
    }
    if (!matches || rs.metadata.deletionTimestamp || pod.metadata.deletionTimestamp) continue;
    out.adopt.push(pod);
  }
  return out;
}

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function phaseRank(pod: KubeObject): number {
  return PHASE_RANK[(pod.status as { phase?: string } | undefined)?.phase ?? 'Pending'] ?? 0;
}

function isScheduled(pod: KubeObject): boolean {
  return !!(pod.spec as { nodeName?: string } | undefined)?.nodeName;
}

function timeMs(t: string | undefined): number {
  const v = t ? Date.parse(t) : NaN;
  return Number.isNaN(v) ? Number.POSITIVE_INFINITY : v; // no time sorts as the newest
}

function restarts(pod: KubeObject): number {
  const cs = (pod.status as { containerStatuses?: { restartCount?: number }[] } | undefined)
    ?.containerStatuses;
  return (cs ?? []).reduce((n, c) => Math.max(n, c.restartCount ?? 0), 0);
}

/**
 * Orders pods so that the first are the best to delete (Kubernetes' ActivePods ranking):
 * unscheduled before scheduled; Pending before Unknown before Running; not ready before ready;
 * ready for less time before ready for longer; more restarts before fewer; newest before oldest
 * (the name breaks remaining ties so the order is stable).
 */
export function compareForDeletion(a: KubeObject, b: KubeObject): number {
  const sa = isScheduled(a);
  const sb = isScheduled(b);
  if (sa !== sb) return sa ? 1 : -1;
  const pa = phaseRank(a);
  const pb = phaseRank(b);
  if (pa !== pb) return pa - pb;
  const ra = isPodReady(a);
  const rb = isPodReady(b);
  if (ra !== rb) return ra ? 1 : -1;
  if (ra && rb) {
    const ta = timeMs(podReadyCondition(a)?.lastTransitionTime);
    const tb = timeMs(podReadyCondition(b)?.lastTransitionTime);
    if (ta !== tb) return tb - ta > 0 ? 1 : -1;
  }
  const xa = restarts(a);
  const xb = restarts(b);
  if (xa !== xb) return xb - xa;
  const ca = timeMs(a.metadata.creationTimestamp);
  const cb = timeMs(b.metadata.creationTimestamp);
  if (ca !== cb) return cb - ca > 0 ? 1 : -1;
  const na = a.metadata.name ?? '';
  const nb = b.metadata.name ?? '';
  return na < nb ? 1 : na > nb ? -1 : 0;
}

/** Pods ranked for deletion, best candidates first (a sorted copy). */
export function rankForDeletion(pods: KubeObject[]): KubeObject[] {
  return [...pods].sort(compareForDeletion);
}

/** Failed or Succeeded: the pod will not run again and counts as gone. */
export function isPodTerminal(pod: KubeObject): boolean {
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  return phase === 'Failed' || phase === 'Succeeded';
}

export interface ReplicaActions {
  /** How many pods to create from the template. */
  create: number;
  /** Pods to delete: surplus active pods (ranked) first, then terminal pods already replaced. */
  delete: KubeObject[];
}

/**
 * What to do about the pod count: too few active pods → create the difference (at most burst);
 * too many → delete the surplus ranked by compareForDeletion (at most burst). Terminal pods count
 * as gone; once their replacements exist (active ≥ replicas) they are deleted so they do not pile
 * up. A ReplicaSet being deleted gets nothing (the garbage collector removes its pods).
 */
export function decideReplicas(rs: KubeObject, owned: KubeObject[], burst = BURST_REPLICAS): ReplicaActions {
  if (rs.metadata.deletionTimestamp) return { create: 0, delete: [] };
  const want = desiredReplicas(rs);
  const active = owned.filter(isPodActive);
  const diff = active.length - want;
  if (diff < 0) return { create: Math.min(-diff, burst), delete: [] };
  const surplus = diff > 0 ? rankForDeletion(active).slice(0, Math.min(diff, burst)) : [];
  const terminal = owned
    .filter((p) => !p.metadata.deletionTimestamp && isPodTerminal(p))
    .slice(0, Math.max(0, burst - surplus.length));
  return { create: 0, delete: [...surplus, ...terminal] };
}

/** A failure of the last attempt to create or delete pods, for the ReplicaFailure condition. */
export interface ManageFailure {
  reason: 'FailedCreate' | 'FailedDelete';
  message: string;
}

export interface StatusResult {
  status: ReplicaSetStatus;
  /** When (ms since the epoch) the next ready pod becomes available, if one is waiting for minReadySeconds. */
  nextAvailableAt?: number;
}

const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The status the ReplicaSet should have (Kubernetes' calculateStatus): counts over its active
 * owned pods — replicas, fullyLabeledReplicas (labels include every template label),
 * readyReplicas, availableReplicas (ready for minReadySeconds at `now`) — observedGeneration, and
 * the ReplicaFailure condition: set (True) while creates or deletes fail, removed once they do not.
 */
export function computeStatus(
  rs: KubeObject,
  owned: KubeObject[],
  nowMs: number,
  failure?: ManageFailure,
): StatusResult {
  const templateLabels = Object.entries(specOf(rs).template?.metadata?.labels ?? {});
  const minReady = minReadySecondsOf(rs);
  let replicas = 0;
  let fullyLabeled = 0;
  let ready = 0;
  let available = 0;
  let next: number | undefined;
  for (const pod of owned) {
    if (!isPodActive(pod)) continue;
    replicas++;
    const labels = pod.metadata.labels ?? {};
    if (templateLabels.every(([k, v]) => labels[k] === v)) fullyLabeled++;
    if (!isPodReady(pod)) continue;
    ready++;
    const at = podAvailableAt(pod, minReady);
    if (at === undefined) continue;
    if (at <= nowMs) available++;
    else if (next === undefined || at < next) next = at;
  }
  const prev = ((rs.status as { conditions?: ReplicaSetCondition[] } | undefined)?.conditions ?? []).filter(
    (c) => c && typeof c === 'object',
  );
  let conditions = prev;
  const old = prev.find((c) => c.type === 'ReplicaFailure');
  if (failure) {
    const cond: ReplicaSetCondition = {
      type: 'ReplicaFailure',
      status: 'True',
      lastTransitionTime:
        old?.status === 'True' && old.lastTransitionTime ? old.lastTransitionTime : rfc3339(nowMs),
      reason: failure.reason,
      message: failure.message,
    };
    conditions = [...prev.filter((c) => c.type !== 'ReplicaFailure'), cond];
  } else if (old) {
    conditions = prev.filter((c) => c.type !== 'ReplicaFailure');
  }
  const status: ReplicaSetStatus = {
    replicas,
    fullyLabeledReplicas: fullyLabeled,
    readyReplicas: ready,
    availableReplicas: available,
    ...(rs.metadata.generation !== undefined ? { observedGeneration: rs.metadata.generation } : {}),
    ...(conditions.length ? { conditions } : {}),
  };
  return next === undefined ? { status } : { status, nextAvailableAt: next };
}

/** True when writing `next` would change nothing in the ReplicaSet's current status. */
export function statusUnchanged(rs: KubeObject, next: ReplicaSetStatus): boolean {
  const cur = (rs.status ?? {}) as Partial<ReplicaSetStatus>;
  return (
    (cur.replicas ?? 0) === next.replicas &&
    (cur.fullyLabeledReplicas ?? 0) === next.fullyLabeledReplicas &&
    (cur.readyReplicas ?? 0) === next.readyReplicas &&
    (cur.availableReplicas ?? 0) === next.availableReplicas &&
    cur.observedGeneration === next.observedGeneration &&
    JSON.stringify(cur.conditions ?? []) === JSON.stringify(next.conditions ?? [])
  );
}

/**
 * The pod a ReplicaSet creates (Kubernetes' GetPodFromTemplate): generateName "<rs>-", the
 * template's labels, annotations and finalizers, the ReplicaSet as controlling owner, and the
 * template spec with the API server's defaults applied.
 */
export function podFromTemplate(rs: KubeObject): KubeObject {
  const t = specOf(rs).template ?? {};
  const tm = t.metadata ?? {};
  const metadata: KubeObject['metadata'] = {
    generateName: `${rs.metadata.name}-`,
    namespace: rs.metadata.namespace,
    labels: { ...(tm.labels ?? {}) },
    ownerReferences: [ownerRefFor(rs)],
  };
  if (tm.annotations && Object.keys(tm.annotations).length) metadata.annotations = { ...tm.annotations };
  if (tm.finalizers?.length) metadata.finalizers = [...tm.finalizers];
  return applyDefaults({ apiVersion: 'v1', kind: 'Pod', metadata, spec: structuredClone(t.spec ?? {}) });
}

/** True when the template's labels satisfy the selector (pods it creates would be counted). */
export function templateMatchesSelector(rs: KubeObject, selector = rsSelector(rs)): boolean {
  return matchLabels(selector, specOf(rs).template?.metadata?.labels);
}

/** Batch sizes for n creates: 1, 2, 4, ... (slow start), the last cut to what remains. */
export function slowStartBatches(n: number, initial = 1): number[] {
  const out: number[] = [];
  let size = Math.max(1, initial);
  for (let left = n; left > 0;) {
    const b = Math.min(size, left);
    out.push(b);
    left -= b;
    size *= 2;
  }
  return out;
}
