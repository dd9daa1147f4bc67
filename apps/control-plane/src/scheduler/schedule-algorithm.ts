/**
 * The scheduling decision as pure functions (kube-scheduler's default plugins, reduced): which
 * nodes a pending pod fits on (filters), which of those is best (scores), and, when none fits,
 * the message that says why in kube-scheduler's words. No I/O, no clocks: the scheduler keeps
 * the per-node state (NodeInfo) current and calls schedule() once per pod.
 */
import { tryParseQuantity, type KubeObject } from '@berth/api';

/** cpu in millicores, memory in bytes, pods as a count. */
export interface Resources {
  milliCpu: number;
  memory: number;
  pods: number;
}

/** What kube-scheduler counts for a container without a cpu/memory request, when scoring only. */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

export const DEFAULT_SCHEDULER_NAME = 'default-scheduler';
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';

/** The failure reasons, worded as kube-scheduler's (they appear in the message's histogram). */
export const REASON = {
  notReady: 'node(s) were not ready',
  unschedulable: 'node(s) were unschedulable',
  selector: "node(s) didn't match Pod's node affinity/selector",
  cpu: 'Insufficient cpu',
  memory: 'Insufficient memory',
  pods: 'Too many pods',
  taint: (t: Taint) => `node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`,
} as const;

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

/** What the filters need of one Node object, computed once per node change. */
export interface NodeFacts {
  ready: boolean;
  unschedulable: boolean;
  /** Only the taints that keep pods away (NoSchedule, NoExecute). */
  taints: Taint[];
  labels: Record<string, string>;
  allocatable: Resources;
}

/**
 * One node as the scheduler sees it: its facts (undefined while only bound pods name it) and the
 * sums of the pods bound or assumed on it, kept incrementally.
 */
export interface NodeInfo {
  name: string;
  facts?: NodeFacts;
  /** Sum of the fit requests of its pods (pods = how many). */
  requested: Resources;
  /** The same with kube-scheduler's defaults for missing cpu/memory requests (for scoring). */
  nonZeroRequested: { milliCpu: number; memory: number };
  /** Controller owner uid → how many of its pods are here (for spreading). */
  ownerCounts: Map<string, number>;
}

/** What the algorithm needs of a pod, computed once per decision. */
export interface PodInfo {
  /** Fit requests: sum of containers, at least each init container, plus overhead; pods = 1. */
  requests: Resources;
  nonZero: { milliCpu: number; memory: number };
  /** The controller ownerReference's uid, if any. */
  owner?: string;
  nodeSelector: [string, string][];
  tolerations: Toleration[];
}

export function emptyNodeInfo(name: string): NodeInfo {
  return {
    name,
    facts: undefined, // present from the start: one object shape for every NodeInfo
    requested: { milliCpu: 0, memory: 0, pods: 0 },
    nonZeroRequested: { milliCpu: 0, memory: 0 },
    ownerCounts: new Map(),
  };
}

// ---------------------------------------------------------------------------------------------
// pods

interface ContainerLike {
  resources?: { requests?: Record<string, string | number> };
}

const milli = (q: string | number | undefined): number | undefined => {
  if (q === undefined) return undefined;
  const v = tryParseQuantity(q);
  return v === undefined || v < 0 ? undefined : Math.ceil(v * 1000 - 1e-9);
};
const bytes = (q: string | number | undefined): number | undefined => {
  if (q === undefined) return undefined;
  const v = tryParseQuantity(q);
  return v === undefined || v < 0 ? undefined : Math.ceil(v - 1e-9);
};

/** A pod that the default scheduler should place (no node yet, not finished, not being deleted). */
export function isPendingPod(pod: KubeObject): boolean {
  const spec = pod.spec as { nodeName?: string; schedulerName?: string } | undefined;
  if (!spec || spec.nodeName || pod.metadata.deletionTimestamp) return false;
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  return !spec.schedulerName || spec.schedulerName === DEFAULT_SCHEDULER_NAME;
}

/** A pod that holds resources on a node: bound and not finished. */
export function isBoundActivePod(pod: KubeObject): boolean {
  const nodeName = (pod.spec as { nodeName?: string } | undefined)?.nodeName;
  if (!nodeName) return false;
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed';
}

/** The uid of the pod's controller ownerReference (the ReplicaSet, ...), if any. */
export function controllerOwner(pod: KubeObject): string | undefined {
  const refs = pod.metadata.ownerReferences;
  if (!refs?.length) return undefined;
  return (refs.find((r) => r.controller) ?? undefined)?.uid;
}

/**
 * A pod's requests as kube-scheduler computes them: the sum over containers, raised to each init
 * container's (they run one at a time, before the others), plus spec.overhead; and the same with
 * 100m cpu / 200Mi memory for each container that requests none (used only for scoring).
 */
export function podInfo(pod: KubeObject): PodInfo {
  const spec = (pod.spec ?? {}) as {
    containers?: ContainerLike[];
    initContainers?: ContainerLike[];
    overhead?: Record<string, string | number>;
    nodeSelector?: Record<string, string>;
    tolerations?: Toleration[];
  };
  let cpu = 0;
  let mem = 0;
  let nzCpu = 0;
  let nzMem = 0;
  for (const c of spec.containers ?? []) {
    const r = c.resources?.requests;
    const cc = milli(r?.cpu);
    const cm = bytes(r?.memory);
    cpu += cc ?? 0;
    mem += cm ?? 0;
    nzCpu += cc ?? DEFAULT_MILLI_CPU_REQUEST;
    nzMem += cm ?? DEFAULT_MEMORY_REQUEST;
  }
  for (const c of spec.initContainers ?? []) {
    const r = c.resources?.requests;
    const cc = milli(r?.cpu) ?? 0;
    const cm = bytes(r?.memory) ?? 0;
    cpu = Math.max(cpu, cc);
    mem = Math.max(mem, cm);
    nzCpu = Math.max(nzCpu, cc);
    nzMem = Math.max(nzMem, cm);
  }
  const oc = milli(spec.overhead?.cpu) ?? 0;
  const om = bytes(spec.overhead?.memory) ?? 0;
  return {
    requests: { milliCpu: cpu + oc, memory: mem + om, pods: 1 },
    nonZero: { milliCpu: nzCpu + oc, memory: nzMem + om },
    owner: controllerOwner(pod),
    nodeSelector: Object.entries(spec.nodeSelector ?? {}),
    tolerations: spec.tolerations ?? [],
  };
}

// ---------------------------------------------------------------------------------------------
// nodes

/** The facts the filters read from a Node object. A missing allocatable resource counts as 0. */
export function nodeFacts(node: KubeObject): NodeFacts {
  const spec = (node.spec ?? {}) as { unschedulable?: boolean; taints?: Taint[] };
  const status = (node.status ?? {}) as {
    allocatable?: Record<string, string>;
    conditions?: { type: string; status: string }[];
  };
  const alloc = status.allocatable ?? {};
  return {
    ready: !!status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    unschedulable: !!spec.unschedulable,
    taints: (spec.taints ?? [])
      .filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute')
      .map((t) => ({ key: t.key, value: t.value, effect: t.effect })),
    labels: { ...(node.metadata.labels ?? {}) },
    allocatable: {
      milliCpu: milli(alloc.cpu) ?? 0,
      memory: bytes(alloc.memory) ?? 0,
      pods: Math.floor(tryParseQuantity(alloc.pods ?? 0) ?? 0),
    },
  };
}

/** True when two nodes' facts differ in anything a filter or score reads. */
export function factsDiffer(a: NodeFacts | undefined, b: NodeFacts | undefined): boolean {
  if (!a || !b) return a !== b;
  if (a.ready !== b.ready || a.unschedulable !== b.unschedulable) return true;
  const x = a.allocatable;
  const y = b.allocatable;
  if (x.milliCpu !== y.milliCpu || x.memory !== y.memory || x.pods !== y.pods) return true;
  if (a.taints.length !== b.taints.length) return true;
  for (let i = 0; i < a.taints.length; i++) {
    const s = a.taints[i];
    const t = b.taints[i];
    if (s.key !== t.key || (s.value ?? '') !== (t.value ?? '') || s.effect !== t.effect) return true;
  }
  const ak = Object.keys(a.labels);
  if (ak.length !== Object.keys(b.labels).length) return true;
  return ak.some((k) => a.labels[k] !== b.labels[k]);
}

/** Kubernetes' Toleration.ToleratesTaint. */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (t.operator === 'Exists') return true;
  return (t.value ?? '') === (taint.value ?? '');
}

const UNSCHEDULABLE_TAINT: Taint = { key: TAINT_UNSCHEDULABLE, effect: 'NoSchedule' };

// ---------------------------------------------------------------------------------------------
// filters and scores

/**
 * Why `pod` cannot go to `node` (empty when it fits), in kube-scheduler's order: a node failing an
 * earlier filter is not checked further; the resource filter reports every resource that is short.
 */
export function filterNode(pod: PodInfo, node: NodeInfo): string[] {
  const f = node.facts;
  if (!f) return [REASON.notReady];
  if (!f.ready) return [REASON.notReady];
  if (f.unschedulable && !tolerated(pod.tolerations, UNSCHEDULABLE_TAINT)) {
    return [REASON.unschedulable];
  }
  for (const taint of f.taints) {
    if (!tolerated(pod.tolerations, taint)) return [REASON.taint(taint)];
  }
  for (const [k, v] of pod.nodeSelector) {
    if (f.labels[k] !== v) return [REASON.selector];
  }
  return resourceReasons(pod, node, f);
}

function resourceReasons(pod: PodInfo, node: NodeInfo, f: NodeFacts): string[] {
  const out: string[] = [];
  const a = f.allocatable;
  const r = node.requested;
  const p = pod.requests;
  if (r.pods + 1 > a.pods) out.push(REASON.pods);
  if (p.milliCpu > 0 && r.milliCpu + p.milliCpu > a.milliCpu) out.push(REASON.cpu);
  if (p.memory > 0 && r.memory + p.memory > a.memory) out.push(REASON.memory);
  return out;
}

/**
 * filterNode(...).length === 0 without allocating: the hot path (it runs for every node on every
 * decision). filterNode gives the reasons when no node fits.
 */
export function fits(pod: PodInfo, node: NodeInfo): boolean {
  const f = node.facts;
  if (!f || !f.ready) return false;
  const tol = pod.tolerations;
  if (f.unschedulable && !tolerated(tol, UNSCHEDULABLE_TAINT)) return false;
  for (let i = 0; i < f.taints.length; i++) if (!tolerated(tol, f.taints[i])) return false;
  const sel = pod.nodeSelector;
  for (let i = 0; i < sel.length; i++) if (f.labels[sel[i][0]] !== sel[i][1]) return false;
  const a = f.allocatable;
  const r = node.requested;
  const p = pod.requests;
  if (r.pods + 1 > a.pods) return false;
  if (p.milliCpu > 0 && r.milliCpu + p.milliCpu > a.milliCpu) return false;
  return !(p.memory > 0 && r.memory + p.memory > a.memory);
}

function tolerated(tolerations: Toleration[], taint: Taint): boolean {
  for (let i = 0; i < tolerations.length; i++) if (tolerates(tolerations[i], taint)) return true;
  return false;
}

function freeShare(requested: number, capacity: number): number {
  return capacity <= 0 || requested > capacity ? 0 : Math.floor(((capacity - requested) * 100) / capacity);
}

/** kube-scheduler's LeastAllocated score (0-100, integer): free share of cpu and memory, averaged. */
export function leastRequestedScore(pod: PodInfo, node: NodeInfo): number {
  const a = node.facts?.allocatable;
  if (!a) return 0;
  const cpu = freeShare(node.nonZeroRequested.milliCpu + pod.nonZero.milliCpu, a.milliCpu);
  const mem = freeShare(node.nonZeroRequested.memory + pod.nonZero.memory, a.memory);
  return Math.floor((cpu + mem) / 2);
}

export type ScheduleResult =
  { ok: true; index: number; node: string } | { ok: false; message: string; reasons: Map<string, number> };

/**
 * Chooses a node for the pod among `nodes`: of those that pass every filter, the one with the
 * fewest pods of the pod's owner (spreading replicas), then the highest least-requested score;
 * among equals the first met scanning from `start` (so a caller that advances start past each
 * choice spreads equal nodes round-robin). The scan stops after `feasibleToFind` nodes that fit
 * (see numFeasibleNodesToFind). When none fits, the message counts each reason over
 * the nodes, as kube-scheduler: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) ...".
 * O(nodes).
 */
export function schedule(
  pod: PodInfo,
  nodes: readonly NodeInfo[],
  start = 0,
  feasibleToFind = nodes.length,
): ScheduleResult {
  const n = nodes.length;
  let feasible = 0;
  let best = -1;
  let bestSpread = 0;
  let bestScore = 0;
  const from = n ? ((start % n) + n) % n : 0;
  const owner = pod.owner;
  for (let j = 0; j < n; j++) {
    const i = from + j < n ? from + j : from + j - n;
    const node = nodes[i];
    if (!fits(pod, node)) continue;
    if (++feasible > feasibleToFind) break;
    const spread = owner ? (node.ownerCounts.get(owner) ?? 0) : 0;
    if (best >= 0 && spread > bestSpread) continue;
    const score = leastRequestedScore(pod, node);
    if (best < 0 || spread < bestSpread || score > bestScore) {
      best = i;
      bestSpread = spread;
      bestScore = score;
    }
  }
  if (best >= 0) return { ok: true, index: best, node: nodes[best].name };
  // Nothing fits (the rare path): count why, node by node.
  const reasons = new Map<string, number>();
  for (const node of nodes) for (const r of filterNode(pod, node)) reasons.set(r, (reasons.get(r) ?? 0) + 1);
  return { ok: false, message: failureMessage(n, reasons), reasons };
}

/**
 * How many feasible nodes a decision looks for before it stops searching (kube-scheduler's
 * adaptive percentageOfNodesToScore): all of them below 100 nodes, else 50% minus 1% per 125
 * nodes (at least 5%, at least 100 nodes): 420 of 1,000 nodes. The scan starts after the last
 * chosen node, so successive decisions look at different windows and every node gets its turn.
 */
export function numFeasibleNodesToFind(total: number): number {
  if (total < 100) return total;
  const pct = Math.max(5, 50 - Math.floor(total / 125));
  return Math.max(100, Math.floor((total * pct) / 100));
}

/** kube-scheduler's FitError text: the reasons as "count reason", sorted as strings. */
export function failureMessage(total: number, reasons: Map<string, number>): string {
  if (total === 0) return 'no nodes available to schedule pods';
  const parts = [...reasons].map(([r, c]) => `${c} ${r}`).sort();
  return `0/${total} nodes are available: ${parts.join(', ')}.`;
}
