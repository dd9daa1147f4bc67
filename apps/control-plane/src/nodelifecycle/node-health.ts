/**
 * The node-lifecycle decisions as pure functions: when a node's heartbeat is overdue it becomes
 * NotReady (Ready=Unknown) and gets the unreachable taints; when it has been NotReady longer than
 * the eviction timeout its pods are deleted (their ReplicaSets replace them elsewhere); when it
 * reports Ready again the taints go. Times are this controller's own clock: a heartbeat counts
 * from when we saw it change, never from the agent's timestamps (no cross-host clock comparison).
 */
import type { KubeObject, NodeConditionV1 } from '@berth/api';

export type NodeCondition = NodeConditionV1;

export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';

/** What the controller remembers per node between reconciles. */
export interface NodeMemory {
  /** What the agent renews (lease renewTime, Ready lastHeartbeatTime), as one string. */
  heartbeat: string;
  /** Our clock when `heartbeat` last changed (or when we first saw the node). */
  heartbeatAtMs: number;
  /** Our clock when we first saw the node not ready in this spell. */
  notReadySinceMs?: number;
}

export interface Timing {
  gracePeriodMs: number;
  evictionTimeoutMs: number;
}

export interface NodeActions {
  /** Set Ready=Unknown (and its message) on the node's status. */
  markUnknown: boolean;
  /** Desired taints (undefined: leave as they are). */
  taints?: Taint[];
  /** Delete the pods bound to this node. */
  evict: boolean;
  /** Mark the node's pods not ready (once, when it goes NotReady). */
  markPodsNotReady: boolean;
  /** The node was NotReady and reports Ready again. */
  becameReady: boolean;
  /** Check again after this long (when a deadline will pass). */
  requeueAfterMs?: number;
  memory: NodeMemory;
}

export function readyCondition(node: KubeObject): NodeCondition | undefined {
  const conds = ((node.status as { conditions?: NodeCondition[] } | undefined)?.conditions ??
    []) as NodeCondition[];
  return conds.find((c) => c.type === 'Ready');
}

export function heartbeatOf(node: KubeObject, lease: KubeObject | undefined): string {
  const r = readyCondition(node);
  const renew = (lease?.spec as { renewTime?: string } | undefined)?.renewTime ?? '';
  // Only what the agent writes: our own Ready=Unknown must not count as a sign of life.
  return `${renew}|${r?.lastHeartbeatTime ?? ''}`;
}

function taintsOf(node: KubeObject): Taint[] {
  return ((node.spec as { taints?: Taint[] } | undefined)?.taints ?? []) as Taint[];
}

export function decideNode(
  node: KubeObject,
  lease: KubeObject | undefined,
  prev: NodeMemory | undefined,
  nowMs: number,
  t: Timing,
  nowIso: string,
): NodeActions {
  const hb = heartbeatOf(node, lease);
  const memory: NodeMemory =
    prev && prev.heartbeat === hb
      ? { ...prev }
      : { heartbeat: hb, heartbeatAtMs: nowMs, notReadySinceMs: prev?.notReadySinceMs };
  const ready = readyCondition(node);
  const silentMs = nowMs - memory.heartbeatAtMs;
  const overdue = silentMs > t.gracePeriodMs;
  const markUnknown = overdue && ready?.status !== 'Unknown';
  const notReady = overdue || (ready !== undefined && ready.status !== 'True');
  const wasNotReady = memory.notReadySinceMs !== undefined;
  if (notReady && !wasNotReady) memory.notReadySinceMs = nowMs;
  if (!notReady) delete memory.notReadySinceMs;

  // Taints: unreachable while the heartbeat is overdue, not-ready while the agent says not ready.
  const want = new Map<string, boolean>([
    [TAINT_UNREACHABLE, overdue],
    [TAINT_NOT_READY, !overdue && notReady],
  ]);
  const cur = taintsOf(node);
  let next = cur.filter((x) => !want.has(x.key) || want.get(x.key));
  for (const [key, on] of want) {
    if (!on) continue;
    for (const effect of ['NoSchedule', 'NoExecute']) {
      if (!next.some((x) => x.key === key && x.effect === effect))
        next = [...next, { key, effect, timeAdded: nowIso }];
    }
  }
  const sameTaints =
    next.length === cur.length &&
    next.every((x) => cur.some((c) => c.key === x.key && c.effect === x.effect));

  let evict = false;
  let requeueAfterMs: number | undefined;
  if (notReady) {
    const since = memory.notReadySinceMs!;
    const left = t.evictionTimeoutMs - (nowMs - since);
    if (left <= 0) evict = true;
    // While NotReady, look again at the eviction deadline and then periodically (new pods may land).
    requeueAfterMs = left > 0 ? left + 10 : Math.max(1000, Math.min(t.gracePeriodMs, 10_000));
  } else {
    requeueAfterMs = t.gracePeriodMs - silentMs + 10;
  }
  return {
    markUnknown,
    taints: sameTaints ? undefined : next,
    evict,
    markPodsNotReady: markUnknown,
    becameReady: wasNotReady && !notReady,
    requeueAfterMs,
    memory,
  };
}
