import type { KubeObject, NodeConditionV1, NodeStatusV1 } from '@berth/api';

export const KUBELET_VERSION = 'berth/0.1.0';

/** What the agent knows about its host (gathered by hostInfo(); plain data for tests). */
export interface HostInfo {
  nodeName: string;
  hostname: string;
  internalIP: string;
  cpus: number;
  memoryBytes: number;
  maxPods: number;
  kernelVersion: string;
  osImage: string;
  architecture: string;
  runtimeVersion: string;
  machineID?: string;
  bootID?: string;
  /** The agent's own endpoint port (logs). */
  port: number;
}

/** OCI architecture names for Node's nodeInfo.architecture (Go's GOARCH). */
export function goArch(nodeArch: string): string {
  return (
    (
      { x64: 'amd64', ia32: '386', arm: 'arm', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x' } as Record<
        string,
        string
      >
    )[nodeArch] ?? nodeArch
  );
}

/** `PRETTY_NAME` of an os-release text, else "Linux". */
export function osImageFrom(osRelease: string | undefined): string {
  const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease ?? '');
  return m?.[1] || 'Linux';
}

/** The Ready condition (lastHeartbeatTime: the full status report; the Lease is the frequent heartbeat). */
export function readyCondition(now: Date, since: Date): NodeConditionV1 {
  return {
    type: 'Ready',
    status: 'True',
    reason: 'AgentReady',
    message: 'berth agent is posting ready status',
    lastHeartbeatTime: rfc3339(now),
    lastTransitionTime: rfc3339(since),
  };
}

export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The Node status the agent reports. Pure. */
export function buildNodeStatus(h: HostInfo, now: Date, readySince: Date): NodeStatusV1 {
  const resources = {
    cpu: String(h.cpus),
    memory: `${Math.floor(h.memoryBytes / 1024)}Ki`,
    pods: String(h.maxPods),
  };
  return {
    capacity: { ...resources },
    allocatable: { ...resources },
    phase: 'Running',
    conditions: [readyCondition(now, readySince)],
    addresses: [
      { type: 'InternalIP', address: h.internalIP },
      { type: 'Hostname', address: h.hostname },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: h.port } },
    nodeInfo: {
      machineID: h.machineID,
      bootID: h.bootID,
      kernelVersion: h.kernelVersion,
      osImage: h.osImage,
      containerRuntimeVersion: h.runtimeVersion,
      kubeletVersion: KUBELET_VERSION,
      operatingSystem: 'linux',
      architecture: h.architecture,
    },
  };
}

/** The Node object to create at registration. */
export function buildNode(h: HostInfo, now: Date): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: h.nodeName,
      labels: {
        'kubernetes.io/hostname': h.nodeName,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': h.architecture,
      },
    },
    spec: {},
    status: buildNodeStatus(h, now, now),
  };
}
