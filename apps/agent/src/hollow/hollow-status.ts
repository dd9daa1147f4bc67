import type { ContainerStatusV1, KubeObject, NodeStatusV1, PodConditionV1, PodStatusV1 } from '@berth/api';
import { rfc3339 } from '../node/node-status';

/**
 * The pure parts of hollow nodes (a simulated runtime for scale tests): the Node, Lease and pod
 * status objects they write. No I/O here; hollow-nodes.ts does the writing.
 */

export const HOLLOW_LABEL = 'berth.dev/hollow';
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
export const HOLLOW_LEASE_DURATION_SECONDS = 40;
export const HOLLOW_KUBELET_VERSION = 'berth/0.1.0-hollow';

export interface HollowCapacity {
  cpu: string;
  memory: string;
  pods: string;
}

export const DEFAULT_HOLLOW_CAPACITY: HollowCapacity = { cpu: '32', memory: '256Gi', pods: '110' };

/**
 * RFC 3339 with six fractional digits (Kubernetes MicroTime, e.g. Lease renewTime). `micros` is
 * microseconds since the epoch; it defaults to now at microsecond resolution.
 */
export function microTime(
  micros: number = Math.floor((performance.timeOrigin + performance.now()) * 1000),
): string {
  const ms = Math.floor(micros / 1000);
  const frac = String(Math.floor(micros) % 1_000_000).padStart(6, '0');
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`);
}

/** The name of hollow node `i` (0-based): prefix + i, zero-padded to the width of count - 1. */
export function hollowNodeName(prefix: string, i: number, count: number): string {
  return prefix + String(i).padStart(String(Math.max(count - 1, 0)).length, '0');
}

/** The status a hollow node reports: fixed capacity, Ready, an address per node. */
export function buildHollowNodeStatus(
  index: number,
  capacity: HollowCapacity,
  now: Date,
  readySince: Date,
): NodeStatusV1 {
  // 10.128.0.0/9 spread over the index: unique per node, never a real address here.
  const ip = `10.${128 + ((index >> 16) & 127)}.${(index >> 8) & 255}.${index & 255}`;
  return {
    capacity: { ...capacity },
    allocatable: { ...capacity },
    phase: 'Running',
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'HollowReady',
        message: 'hollow node (simulated runtime) is posting ready status',
        lastHeartbeatTime: rfc3339(now),
        lastTransitionTime: rfc3339(readySince),
      },
    ],
    addresses: [{ type: 'InternalIP', address: ip }],
    daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
    nodeInfo: {
      kernelVersion: 'hollow',
      osImage: 'hollow',
      containerRuntimeVersion: 'hollow://0.1.0',
      kubeletVersion: HOLLOW_KUBELET_VERSION,
      operatingSystem: 'linux',
      architecture: 'amd64',
    },
  };
}

/** The Node object a hollow node registers. */
export function buildHollowNode(
  name: string,
  index: number,
  capacity: HollowCapacity,
  now: Date,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        [HOLLOW_LABEL]: 'true',
      },
    },
    spec: {},
    status: buildHollowNodeStatus(index, capacity, now, now),
  };
}

/** The node's heartbeat Lease (namespace kube-node-lease, named after the node). */
export function buildHollowLease(nodeName: string, renewTime: string): KubeObject {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: nodeName, namespace: NODE_LEASE_NAMESPACE, labels: { [HOLLOW_LABEL]: 'true' } },
    spec: {
      holderIdentity: nodeName,
      leaseDurationSeconds: HOLLOW_LEASE_DURATION_SECONDS,
      renewTime,
    },
  };
}

interface ContainerSpec {
  name: string;
  image: string;
}

function containersOf(pod: KubeObject, field: 'containers' | 'initContainers'): ContainerSpec[] {
  const list: unknown = pod.spec?.[field];
  return Array.isArray(list) ? (list as ContainerSpec[]) : [];
}

/** `hollow://<pod uid>/<container name>`: the fake container ID of a hollow container. */
export function hollowContainerID(pod: KubeObject, container: string): string {
  return `hollow://${pod.metadata.uid ?? ''}/${container}`;
}

/**
 * Whether the hollow runtime has yet to report `pod` as running: bound to one of its nodes, not
 * being deleted, not finished, and its status is not already the hollow Running status of this
 * pod (same uid, every container).
 */
export function needsHollowStatus(pod: KubeObject, isHollowNode: (name: string) => boolean): boolean {
  const node: unknown = pod.spec?.nodeName;
  if (typeof node !== 'string' || !node || !isHollowNode(node)) return false;
  if (pod.metadata.deletionTimestamp) return false;
  const st = pod.status as PodStatusV1 | undefined;
  if (st?.phase === 'Succeeded' || st?.phase === 'Failed') return false;
  if (st?.phase !== 'Running') return true;
  const containers = containersOf(pod, 'containers');
  const statuses = st.containerStatuses ?? [];
  return !containers.every((c) =>
    statuses.some((s) => s.name === c.name && s.ready && s.containerID === hollowContainerID(pod, c.name)),
  );
}

function condition(type: string, now: string, previous: PodConditionV1[] | undefined): PodConditionV1 {
  const old = previous?.find((c) => c.type === type);
  // Keep the transition time of a condition that was already True.
  const since = old?.status === 'True' && old.lastTransitionTime ? old.lastTransitionTime : now;
  return { type, status: 'True', lastProbeTime: null, lastTransitionTime: since };
}

/**
 * The status the hollow runtime writes for a pod bound to one of its nodes: Running, every
 * container running and ready (init containers terminated with exit code 0), the four pod
 * conditions True. Fields others wrote (e.g. qosClass, other conditions) are kept. Pure.
 */
export function buildHollowPodStatus(pod: KubeObject, now: Date): PodStatusV1 {
  const prev = (pod.status ?? {}) as PodStatusV1;
  const t = rfc3339(now);
  const startTime = prev.startTime ?? t;
  const imageID = (image: string): string => `hollow://${image}`;
  const containerStatuses: ContainerStatusV1[] = containersOf(pod, 'containers').map((c) => ({
    name: c.name,
    state: { running: { startedAt: startTime } },
    ready: true,
    restartCount: 0,
    image: c.image,
    imageID: imageID(c.image),
    containerID: hollowContainerID(pod, c.name),
    started: true,
  }));
  const initContainerStatuses: ContainerStatusV1[] = containersOf(pod, 'initContainers').map((c) => ({
    name: c.name,
    state: {
      terminated: {
        exitCode: 0,
        reason: 'Completed',
        startedAt: startTime,
        finishedAt: startTime,
        containerID: hollowContainerID(pod, c.name),
      },
    },
    ready: true,
    restartCount: 0,
    image: c.image,
    imageID: imageID(c.image),
    containerID: hollowContainerID(pod, c.name),
    started: false,
  }));
  const ours = ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'];
  const conditions = [
    ...ours.map((type) => condition(type, t, prev.conditions)),
    ...(prev.conditions ?? []).filter((c) => !ours.includes(c.type)),
  ];
  const out: PodStatusV1 = {
    ...prev,
    phase: 'Running',
    conditions,
    startTime,
    containerStatuses,
  };
  delete out.reason;
  delete out.message;
  delete out.podIP;
  delete out.podIPs;
  if (initContainerStatuses.length) out.initContainerStatuses = initContainerStatuses;
  else delete out.initContainerStatuses;
  return out;
}
