/**
 * Pod predicates shared by the ReplicaSet and Deployment controllers (as Kubernetes'
 * podutil.IsPodReady / IsPodAvailable and controller.IsPodActive).
 */
import type { PodConditionV1, PodPhase } from '@berth/api';

/** The parts of a Pod these helpers read (PodV1 and any KubeObject pod fit). */
export interface PodLike {
  metadata: { deletionTimestamp?: string | null };
  status?: { phase?: PodPhase | string; conditions?: PodConditionV1[] };
}

/** A pod that still runs or will run: not being deleted and not in a terminal phase. */
export function isPodActive(pod: PodLike): boolean {
  const phase = pod.status?.phase;
  return !pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed';
}

/** The pod's Ready condition, if it has one. */
export function podReadyCondition(pod: PodLike): PodConditionV1 | undefined {
  return pod.status?.conditions?.find((c) => c.type === 'Ready');
}

/** Ready condition status is True. */
export function isPodReady(pod: PodLike): boolean {
  return podReadyCondition(pod)?.status === 'True';
}

function toMs(t: Date | number): number {
  return typeof t === 'number' ? t : t.getTime();
}

/**
 * When the pod becomes (or became) available, in ms since the epoch: the Ready condition's
 * lastTransitionTime + minReadySeconds. Undefined when the pod is not ready, or when
 * minReadySeconds > 0 and the condition has no usable lastTransitionTime (it never becomes
 * available by waiting). With minReadySeconds 0 a ready pod is available at once (returns
 * its transition time, or 0 when it has none).
 */
export function podAvailableAt(pod: PodLike, minReadySeconds: number): number | undefined {
  const ready = podReadyCondition(pod);
  if (ready?.status !== 'True') return undefined;
  const since = ready.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : NaN;
  if (minReadySeconds <= 0) return Number.isNaN(since) ? 0 : since;
  if (Number.isNaN(since)) return undefined;
  return since + minReadySeconds * 1000;
}

/** Ready for at least minReadySeconds at `now` (Ready's lastTransitionTime + minReadySeconds ≤ now). */
export function isPodAvailable(
  pod: PodLike,
  minReadySeconds: number,
  now: Date | number = Date.now(),
): boolean {
  const at = podAvailableAt(pod, minReadySeconds);
  return at !== undefined && at <= toMs(now);
}
