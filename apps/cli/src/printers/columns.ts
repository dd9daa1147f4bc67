import type { KindInfo, KubeObject } from '@berth/api';
import { age } from '../age';

/** One column of a kubectl-style table. */
export interface Column {
  header: string;
  cell(obj: KubeObject, now: number): string;
  /** Shown only with -o wide. */
  wide?: boolean;
}

type Obj = KubeObject;
const NONE = '<none>';

const name: Column = { header: 'NAME', cell: (o) => o.metadata?.name ?? '' };
const ageCol: Column = { header: 'AGE', cell: (o, now) => age(o.metadata?.creationTimestamp, now) };
export const namespaceColumn: Column = { header: 'NAMESPACE', cell: (o) => o.metadata?.namespace ?? '' };
export const labelsColumn: Column = { header: 'LABELS', cell: (o) => formatLabels(o.metadata?.labels) };

export function formatLabels(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (!entries.length) return NONE;
  return entries
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

interface ContainerStatus {
  name?: string;
  ready?: boolean;
  restartCount?: number;
  state?: ContainerState;
  lastState?: ContainerState;
}
interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: {
    reason?: string;
    exitCode?: number;
    signal?: number;
    finishedAt?: string;
    startedAt?: string;
  };
}

/** kubectl's pod STATUS: the most telling container reason, else the phase; Terminating when deleting. */
export function podStatus(pod: Obj): string {
  let reason: string = pod.status?.reason || pod.status?.phase || 'Pending';
  const initStatuses: ContainerStatus[] = pod.status?.initContainerStatuses ?? [];
  const initCount = (pod.spec?.initContainers ?? []).length;
  let initializing = false;
  initStatuses.forEach((c, i) => {
    if (initializing) return;
    const t = c.state?.terminated;
    if (t && t.exitCode === 0) return;
    initializing = true;
    if (t)
      reason = t.reason
        ? `Init:${t.reason}`
        : t.signal
          ? `Init:Signal:${t.signal}`
          : `Init:ExitCode:${t.exitCode}`;
    else if (c.state?.waiting?.reason && c.state.waiting.reason !== 'PodInitializing')
      reason = `Init:${c.state.waiting.reason}`;
    else reason = `Init:${i}/${initCount}`;
  });
  if (!initializing) {
    let hasRunning = false;
    const statuses: ContainerStatus[] = pod.status?.containerStatuses ?? [];
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i];
      const s = c.state ?? {};
      if (s.waiting?.reason) reason = s.waiting.reason;
      else if (s.terminated?.reason) reason = s.terminated.reason;
      else if (s.terminated)
        reason = s.terminated.signal
          ? `Signal:${s.terminated.signal}`
          : `ExitCode:${s.terminated.exitCode ?? 0}`;
      else if (c.ready && s.running) hasRunning = true;
    }
    if (reason === 'Completed' && hasRunning) reason = 'Running';
  }
  if (pod.metadata?.deletionTimestamp) reason = pod.status?.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return reason;
}

function podReady(pod: Obj): string {
  const total = (pod.spec?.containers ?? []).length;
  const ready = ((pod.status?.containerStatuses ?? []) as ContainerStatus[]).filter((c) => c.ready).length;
  return `${ready}/${total}`;
}

function podRestarts(pod: Obj, now: number): string {
  let restarts = 0;
  let last: number | undefined;
  for (const c of (pod.status?.containerStatuses ?? []) as ContainerStatus[]) {
    restarts += num(c.restartCount);
    const fin = c.lastState?.terminated?.finishedAt;
    if (fin) {
      const t = Date.parse(fin);
      if (!Number.isNaN(t) && (last === undefined || t > last)) last = t;
    }
  }
  if (restarts && last !== undefined) return `${restarts} (${age(new Date(last).toISOString(), now)} ago)`;
  return String(restarts);
}

interface PodTemplateContainer {
  name?: string;
  image?: string;
}

function containers(o: Obj): PodTemplateContainer[] {
  return o.spec?.template?.spec?.containers ?? [];
}

function selectorString(
  sel: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] } | undefined,
) {
  if (!sel) return NONE;
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of (sel.matchExpressions ?? []) as { key: string; operator: string; values?: string[] }[]) {
    if (e.operator === 'In') parts.push(`${e.key} in (${(e.values ?? []).join(',')})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${(e.values ?? []).join(',')})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.length ? parts.join(',') : NONE;
}

const workloadWide: Column[] = [
  {
    header: 'CONTAINERS',
    wide: true,
    cell: (o) =>
      containers(o)
        .map((c) => c.name ?? '')
        .join(','),
  },
  {
    header: 'IMAGES',
    wide: true,
    cell: (o) =>
      containers(o)
        .map((c) => c.image ?? '')
        .join(','),
  },
  { header: 'SELECTOR', wide: true, cell: (o) => selectorString(o.spec?.selector) },
];

export function nodeStatus(node: Obj): string {
  const ready = ((node.status?.conditions ?? []) as { type?: string; status?: string }[]).find(
    (c) => c.type === 'Ready',
  );
  let s = ready?.status === 'True' ? 'Ready' : ready?.status === 'False' ? 'NotReady' : 'Unknown';
  if (node.spec?.unschedulable) s += ',SchedulingDisabled';
  return s;
}

function nodeRoles(node: Obj): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata?.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/') && k.length > 24) roles.add(k.slice(24));
    else if (k === 'kubernetes.io/role' && v) roles.add(v);
  }
  return roles.size ? [...roles].sort().join(',') : NONE;
}

function nodeAddress(node: Obj, type: string): string {
  const a = ((node.status?.addresses ?? []) as { type?: string; address?: string }[]).find(
    (x) => x.type === type,
  );
  return a?.address ?? NONE;
}

function dataCount(o: Obj): string {
  return String(Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length);
}

function eventLastSeen(o: Obj, now: number): string {
  return age(o.lastTimestamp || o.eventTime || o.firstTimestamp || o.metadata?.creationTimestamp, now);
}

/** The columns of each kind, as kubectl shows them; other kinds get NAME and AGE. */
const COLUMNS: Record<string, Column[]> = {
  Pod: [
    name,
    { header: 'READY', cell: podReady },
    { header: 'STATUS', cell: podStatus },
    { header: 'RESTARTS', cell: podRestarts },
    ageCol,
    { header: 'IP', wide: true, cell: (o) => o.status?.podIP || NONE },
    { header: 'NODE', wide: true, cell: (o) => o.spec?.nodeName || NONE },
  ],
  Deployment: [
    name,
    { header: 'READY', cell: (o) => `${num(o.status?.readyReplicas)}/${num(o.spec?.replicas ?? 1)}` },
    { header: 'UP-TO-DATE', cell: (o) => String(num(o.status?.updatedReplicas)) },
    { header: 'AVAILABLE', cell: (o) => String(num(o.status?.availableReplicas)) },
    ageCol,
    ...workloadWide,
  ],
  ReplicaSet: [
    name,
    { header: 'DESIRED', cell: (o) => String(num(o.spec?.replicas ?? 1)) },
    { header: 'CURRENT', cell: (o) => String(num(o.status?.replicas)) },
    { header: 'READY', cell: (o) => String(num(o.status?.readyReplicas)) },
    ageCol,
    ...workloadWide,
  ],
  Node: [
    name,
    { header: 'STATUS', cell: nodeStatus },
    { header: 'ROLES', cell: nodeRoles },
    ageCol,
    { header: 'VERSION', cell: (o) => o.status?.nodeInfo?.kubeletVersion ?? '' },
    { header: 'INTERNAL-IP', wide: true, cell: (o) => nodeAddress(o, 'InternalIP') },
    { header: 'OS-IMAGE', wide: true, cell: (o) => o.status?.nodeInfo?.osImage ?? '<unknown>' },
    { header: 'KERNEL-VERSION', wide: true, cell: (o) => o.status?.nodeInfo?.kernelVersion ?? '<unknown>' },
    {
      header: 'CONTAINER-RUNTIME',
      wide: true,
      cell: (o) => o.status?.nodeInfo?.containerRuntimeVersion ?? '<unknown>',
    },
  ],
  Namespace: [name, { header: 'STATUS', cell: (o) => o.status?.phase ?? 'Active' }, ageCol],
  ConfigMap: [name, { header: 'DATA', cell: dataCount }, ageCol],
  Secret: [
    name,
    { header: 'TYPE', cell: (o) => o.type || 'Opaque' },
    { header: 'DATA', cell: dataCount },
    ageCol,
  ],
  Event: [
    { header: 'LAST SEEN', cell: eventLastSeen },
    { header: 'TYPE', cell: (o) => o.type ?? '' },
    { header: 'REASON', cell: (o) => o.reason ?? '' },
    {
      header: 'OBJECT',
      cell: (o) =>
        o.involvedObject
          ? `${String(o.involvedObject.kind ?? '').toLowerCase()}/${o.involvedObject.name ?? ''}`
          : '',
    },
    { header: 'MESSAGE', cell: (o) => String(o.message ?? '').replace(/\s*\n\s*/g, ' ') },
    {
      header: 'SOURCE',
      wide: true,
      cell: (o) =>
        [o.source?.component ?? o.reportingComponent ?? '', o.source?.host ?? ''].filter(Boolean).join(', '),
    },
    {
      header: 'FIRST SEEN',
      wide: true,
      cell: (o, now) => age(o.firstTimestamp || o.eventTime || o.metadata?.creationTimestamp, now),
    },
    { header: 'COUNT', wide: true, cell: (o) => String(o.series?.count ?? o.count ?? 1) },
    { header: 'NAME', wide: true, cell: (o) => o.metadata?.name ?? '' },
  ],
  Lease: [name, { header: 'HOLDER', cell: (o) => o.spec?.holderIdentity ?? '' }, ageCol],
};

export interface TableOptions {
  wide?: boolean;
  allNamespaces?: boolean;
  showLabels?: boolean;
}

export function columnsFor(kind: KindInfo, opts: TableOptions = {}): Column[] {
  const base = (COLUMNS[kind.kind] ?? [name, ageCol]).filter((c) => opts.wide || !c.wide);
  const cols = [...base];
  if (opts.allNamespaces && kind.namespaced) cols.unshift(namespaceColumn);
  if (opts.showLabels) cols.push(labelsColumn);
  return cols;
}
