/**
 * The scheduler's state: one NodeInfo per node with the sums of the pods on it, kept
 * incrementally from the pod and node informers, plus "assumed" pods: those this scheduler bound
 * (or is binding) that the pod informer does not show bound yet. Without them a second decision
 * would count the node as emptier than it is. An assumption ends when the informer shows the pod
 * bound (confirmed), when the bind fails (forget), or when the pod is deleted.
 */
import type { KubeObject } from '@berth/api';
import {
  emptyNodeInfo,
  factsDiffer,
  isBoundActivePod,
  nodeFacts,
  podInfo,
  type NodeInfo,
  type PodInfo,
} from './schedule-algorithm';

interface PodEntry {
  uid: string;
  node: string;
  info: PodInfo;
  assumed: boolean;
}

export class SchedulerCache {
  private readonly infos = new Map<string, NodeInfo>();
  /** Nodes whose Node object is known, in the order they came: what schedule() scans. */
  private readonly known: NodeInfo[] = [];
  private readonly pods = new Map<string, PodEntry>();

  /** The nodes a pod may be scheduled to (their Node objects are known), in a stable order. */
  get nodes(): readonly NodeInfo[] {
    return this.known;
  }

  nodeInfo(name: string): NodeInfo | undefined {
    return this.infos.get(name);
  }

  /** How many pods (bound or assumed) the cache counts. */
  get podCount(): number {
    return this.pods.size;
  }

  isAssumed(key: string): boolean {
    return !!this.pods.get(key)?.assumed;
  }

  /** The node a pod is counted on (bound or assumed), if any. */
  nodeOf(key: string): string | undefined {
    return this.pods.get(key)?.node;
  }

  /**
   * A Node was added or changed. True when that may let a waiting pod fit (the node is new, or
   * something a filter or score reads changed: readiness, cordon, taints, labels, allocatable);
   * false for heartbeats and other changes the scheduler does not read.
   */
  setNode(node: KubeObject): boolean {
    const name = node.metadata.name as string;
    let info = this.infos.get(name);
    if (!info) this.infos.set(name, (info = emptyNodeInfo(name)));
    const before = info.facts;
    info.facts = nodeFacts(node);
    if (!before) {
      this.known.push(info);
      return true;
    }
    return factsDiffer(before, info.facts);
  }

  removeNode(name: string): void {
    const info = this.infos.get(name);
    if (!info?.facts) return;
    info.facts = undefined;
    const i = this.known.indexOf(info);
    if (i >= 0) this.known.splice(i, 1);
    if (!info.requested.pods) this.infos.delete(name);
  }

  /**
   * The pod informer's current view of a pod (added or updated). Returns true when this released
   * resources on a node (the pod finished, moved, or was replaced by a new pod of the same name).
   */
  updatePod(key: string, pod: KubeObject): boolean {
    const cur = this.pods.get(key);
    const uid = pod.metadata.uid as string;
    if (!isBoundActivePod(pod)) {
      if (!cur) return false;
      const nodeName = (pod.spec as { nodeName?: string } | undefined)?.nodeName;
      // Our bind may simply not be visible yet: keep the assumption while the pod is unbound.
      if (cur.assumed && cur.uid === uid && !nodeName && !pod.metadata.deletionTimestamp) return false;
      this.drop(key, cur);
      return true;
    }
    const node = (pod.spec as { nodeName: string }).nodeName;
    let freed = false;
    if (cur) {
      freed = cur.uid !== uid || cur.node !== node;
      this.drop(key, cur);
    }
    this.put(key, { uid, node, info: podInfo(pod), assumed: false });
    return freed;
  }

  /** The pod is gone. True when it held resources on a node (bound, not only assumed). */
  removePod(key: string, uid?: string): boolean {
    const cur = this.pods.get(key);
    if (!cur || (uid && cur.uid !== uid)) return false;
    this.drop(key, cur);
    return !cur.assumed;
  }

  /** Counts `pod` on `node` before the binding is visible. */
  assume(key: string, uid: string, info: PodInfo, node: string): void {
    const cur = this.pods.get(key);
    if (cur) this.drop(key, cur);
    this.put(key, { uid, node, info, assumed: true });
  }

  /** The binding failed: stop counting the assumed pod. */
  forget(key: string, uid: string): void {
    const cur = this.pods.get(key);
    if (cur?.assumed && cur.uid === uid) this.drop(key, cur);
  }

  private put(key: string, e: PodEntry): void {
    this.pods.set(key, e);
    let info = this.infos.get(e.node);
    if (!info) this.infos.set(e.node, (info = emptyNodeInfo(e.node)));
    apply(info, e.info, 1);
  }

  private drop(key: string, e: PodEntry): void {
    this.pods.delete(key);
    const info = this.infos.get(e.node);
    if (!info) return;
    apply(info, e.info, -1);
    if (!info.facts && !info.requested.pods) this.infos.delete(e.node);
  }
}

function apply(info: NodeInfo, p: PodInfo, sign: 1 | -1): void {
  info.requested.milliCpu += sign * p.requests.milliCpu;
  info.requested.memory += sign * p.requests.memory;
  info.requested.pods += sign * p.requests.pods;
  info.nonZeroRequested.milliCpu += sign * p.nonZero.milliCpu;
  info.nonZeroRequested.memory += sign * p.nonZero.memory;
  if (p.owner) {
    const n = (info.ownerCounts.get(p.owner) ?? 0) + sign;
    if (n > 0) info.ownerCounts.set(p.owner, n);
    else info.ownerCounts.delete(p.owner);
  }
}
