import { deepCopy, deepEqual, type KubeObject } from '@berth/api';

/**
 * Deployment and ReplicaSet conventions the CLI reads, as the Deployment controller writes them
 * (the Kubernetes ones): ReplicaSets carry a controller ownerReference to their Deployment, the
 * label `pod-template-hash` and the annotation `deployment.kubernetes.io/revision`.
 */
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
export const POD_TEMPLATE_HASH = 'pod-template-hash';
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
/** The Progressing condition's reason when the rollout made no progress within progressDeadlineSeconds. */
export const PROGRESS_DEADLINE_EXCEEDED = 'ProgressDeadlineExceeded';

/** ReplicaSet annotations that `rollout undo` does not copy onto the Deployment (kubectl's list). */
const ANNOTATIONS_NOT_ROLLED_BACK = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);

/** The uid of the object's controller (the ownerReference with controller: true), if any. */
export function controllerUid(o: KubeObject): string | undefined {
  return (o.metadata.ownerReferences ?? []).find((r) => r.controller)?.uid;
}

/** Whether `child` is controlled by `owner` (a controller ownerReference to owner's uid). */
export function isControlledBy(child: KubeObject, owner: KubeObject): boolean {
  return !!owner.metadata.uid && controllerUid(child) === owner.metadata.uid;
}

/** The revision a ReplicaSet (or Deployment) records, or undefined when it has none (or a bad one). */
export function revisionOf(o: KubeObject): number | undefined {
  const v = o.metadata.annotations?.[REVISION_ANNOTATION];
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

/** The ReplicaSets of a Deployment that carry a revision, by revision (highest wins on duplicates). */
export function revisionHistory(deploy: KubeObject, replicaSets: KubeObject[]): Map<number, KubeObject> {
  const byRevision = new Map<number, KubeObject>();
  for (const rs of replicaSets) {
    if (!isControlledBy(rs, deploy)) continue;
    const r = revisionOf(rs);
    if (r === undefined) continue;
    byRevision.set(r, rs);
  }
  return new Map([...byRevision.entries()].sort(([a], [b]) => a - b));
}

/** A copy of a pod template without the pod-template-hash label (as it is in the Deployment). */
export function templateWithoutHash(template: KubeObject['spec']): KubeObject['spec'] {
  const t = deepCopy(template ?? {});
  const labels = t.metadata?.labels as Record<string, string> | undefined;
  if (labels) {
    delete labels[POD_TEMPLATE_HASH];
    if (!Object.keys(labels).length) delete t.metadata.labels;
  }
  return t;
}

/** Whether two pod templates are the same apart from the pod-template-hash label. */
export function sameTemplate(a: unknown, b: unknown): boolean {
  return deepEqual(templateWithoutHash(a), templateWithoutHash(b));
}

/**
 * The Deployment's annotations after rolling back to `rs`: the ReplicaSet's annotations (except
 * the revision bookkeeping) over the Deployment's; the change cause is the ReplicaSet's or none.
 */
export function rolledBackAnnotations(deploy: KubeObject, rs: KubeObject): Record<string, string> {
  const out: Record<string, string> = { ...(deploy.metadata.annotations ?? {}) };
  delete out[CHANGE_CAUSE_ANNOTATION];
  for (const [k, v] of Object.entries(rs.metadata.annotations ?? {}))
    if (!ANNOTATIONS_NOT_ROLLED_BACK.has(k)) out[k] = v;
  return out;
}

/** The ReplicaSet that runs the Deployment's current template, and the others that still have pods. */
export function newAndOldReplicaSets(
  deploy: KubeObject,
  replicaSets: KubeObject[],
): { newRs?: KubeObject; old: KubeObject[] } {
  const owned = replicaSets
    .filter((rs) => isControlledBy(rs, deploy))
    .sort((a, b) =>
      String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')),
    );
  const newRs = owned.find((rs) => sameTemplate(rs.spec?.template, deploy.spec?.template));
  const old = owned.filter((rs) => rs !== newRs && (rs.spec?.replicas ?? 0) + (rs.status?.replicas ?? 0) > 0);
  return { newRs, old };
}

export interface RolloutState {
  /** kubectl's message (one line, no newline). */
  message: string;
  done: boolean;
  /** Set when the rollout failed: the message is the error. */
  failed?: boolean;
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
}

/** kubectl's rollout status of a Deployment. */
export function deploymentRolloutState(d: KubeObject): RolloutState {
  const name = d.metadata.name ?? '';
  const status = d.status ?? {};
  const generation = d.metadata.generation ?? 0;
  if (generation > (status.observedGeneration ?? 0))
    return { message: 'Waiting for deployment spec update to be observed...', done: false };
  const progressing = ((status.conditions ?? []) as Condition[]).find((c) => c.type === 'Progressing');
  if (progressing?.reason === PROGRESS_DEADLINE_EXCEEDED)
    return { message: `deployment "${name}" exceeded its progress deadline`, done: false, failed: true };
  const desired: number = d.spec?.replicas ?? 1;
  const updated: number = status.updatedReplicas ?? 0;
  const replicas: number = status.replicas ?? 0;
  const available: number = status.availableReplicas ?? 0;
  if (updated < desired)
    return {
      message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${desired} new replicas have been updated...`,
      done: false,
    };
  if (replicas > updated)
    return {
      message: `Waiting for deployment "${name}" rollout to finish: ${replicas - updated} old replicas are pending termination...`,
      done: false,
    };
  if (available < updated)
    return {
      message: `Waiting for deployment "${name}" rollout to finish: ${available} of ${updated} updated replicas are available...`,
      done: false,
    };
  return { message: `deployment "${name}" successfully rolled out`, done: true };
}

/** RFC 3339 in UTC to the second, as kubectl writes restartedAt. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
