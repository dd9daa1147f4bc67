/**
 * Server-side printing: the columns `kubectl get` shows for each kind and how each cell is worked
 * out, as Kubernetes' own printers do (same column names, types, priorities and cell values), so a
 * real kubectl prints Berth's objects as it prints a cluster's. Priority 1 columns are always in
 * the cells; kubectl shows them only with `-o wide`. Plain functions of (object, now): no I/O.
 */
import { labelSelectorToString, selectorFromLabelSelectorSpec, type KubeObject } from '@berth/api';

export type ColumnType = 'string' | 'integer' | 'number' | 'boolean' | 'date';

/** meta.k8s.io/v1 TableColumnDefinition. */
export interface ColumnDefinition {
  name: string;
  type: ColumnType;
  format: string;
  description: string;
  priority: number;
}

export type Cell = string | number | boolean | null;

/** meta.k8s.io/v1 TableRowCondition (only `Completed` exists). */
export interface RowCondition {
  type: 'Completed';
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
}

export interface Printer {
  columns: ColumnDefinition[];
  /** One cell per column, wide ones included. */
  cells(obj: KubeObject, now: number): Cell[];
  conditions?(obj: KubeObject): RowCondition[] | undefined;
}

function col(
  name: string,
  type: ColumnType,
  description: string,
  opts: { priority?: number; format?: string } = {},
): ColumnDefinition {
  return { name, type, format: opts.format ?? '', description, priority: opts.priority ?? 0 };
}

const NAME = col('Name', 'string', 'The name of the object, unique within its namespace.', {
  format: 'name',
});
const AGE = col('Age', 'string', 'How long ago the object was created (metadata.creationTimestamp).');
const CONTAINERS = col('Containers', 'string', 'Names of each container in the template.', { priority: 1 });
const IMAGES = col('Images', 'string', 'Images referenced by each container in the template.', {
  priority: 1,
});

// ---------------------------------------------------------------------------------------------
// Durations and small helpers

/**
 * A duration as kubectl shows ages: two or three significant figures that grow coarser with
 * age (`45s`, `119s`, `2m5s`, `15m`, `3h20m`, `2d4h`, `400d`, `3y10d`). Anything up to one
 * second in the future (clock skew) counts as now; further ahead is `<invalid>`.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${days}d` : `${days}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(days / 365);
  if (hours < 24 * 365 * 8) {
    const d = days % 365;
    return d === 0 ? `${years}y` : `${years}y${d}d`;
  }
  return `${years}y`;
}

/** Time since an RFC 3339 timestamp as kubectl shows it; `<unknown>` when there is none. */
export function since(timestamp: unknown, now: number): string {
  if (typeof timestamp !== 'string' || timestamp === '') return '<unknown>';
  const t = Date.parse(timestamp);
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now - t);
}

type Loose = Record<string, unknown>;

function obj(v: unknown): Loose {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Loose) : {};
}

function list(v: unknown): Loose[] {
  return Array.isArray(v) ? v.map(obj) : [];
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function int(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : 0;
}

function keyCount(v: unknown): number {
  return Object.keys(obj(v)).length;
}

function age(o: KubeObject, now: number): string {
  return since(o.metadata?.creationTimestamp, now);
}

/** Container names and images of a pod template, each joined with ','. */
function containerCells(podSpec: unknown): [string, string] {
  const cs = list(obj(podSpec).containers);
  return [cs.map((c) => str(c.name)).join(','), cs.map((c) => str(c.image)).join(',')];
}

function selectorString(spec: unknown): string {
  if (spec === undefined || spec === null) return '';
  try {
    return labelSelectorToString(selectorFromLabelSelectorSpec(spec as never));
  } catch {
    return '<invalid>';
  }
}

// ---------------------------------------------------------------------------------------------
// Pods

function isRestartableInit(c: Loose | undefined): boolean {
  return c?.restartPolicy === 'Always';
}

function terminatedAt(cs: Loose): number | undefined {
  const t = obj(obj(cs.lastState).terminated).finishedAt;
  const ms = typeof t === 'string' ? Date.parse(t) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

function conditionTrue(status: Loose, type: string): boolean {
  return list(status.conditions).some((c) => c.type === type && c.status === 'True');
}

/**
 * READY, STATUS and RESTARTS of a pod, worked out as kubectl shows them: the first unfinished init
 * container (`Init:1/2`, `Init:CrashLoopBackOff`), else the last container with a waiting or
 * terminated reason (`CrashLoopBackOff`, `Completed`, `ExitCode:1`), else the phase;
 * `Terminating` once deleted; restarts with how long ago the last one was.
 */
export function podSummary(
  pod: KubeObject,
  now: number,
): { ready: string; status: string; restarts: string } {
  const spec = obj(pod.spec);
  const status = obj(pod.status);
  const phase = str(status.phase) || 'Pending';
  let reason = str(status.reason) || phase;
  if (list(status.conditions).some((c) => c.type === 'PodScheduled' && c.reason === 'SchedulingGated'))
    reason = 'SchedulingGated';

  const initSpecs = new Map(list(spec.initContainers).map((c) => [str(c.name), c]));
  let total = list(spec.containers).length;
  for (const c of initSpecs.values()) if (isRestartableInit(c)) total++;
  let ready = 0;
  let restarts = 0;
  let lastRestart: number | undefined;
  let sidecarRestarts = 0;
  let lastSidecarRestart: number | undefined;
  const later = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined ? b : b === undefined ? a : Math.max(a, b);

  const initStatuses = list(status.initContainerStatuses);
  let initializing = false;
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i];
    const state = obj(cs.state);
    const terminated = state.terminated === undefined ? undefined : obj(state.terminated);
    const waiting = state.waiting === undefined ? undefined : obj(state.waiting);
    restarts += int(cs.restartCount);
    lastRestart = later(lastRestart, terminatedAt(cs));
    const sidecar = isRestartableInit(initSpecs.get(str(cs.name)));
    if (sidecar) {
      sidecarRestarts += int(cs.restartCount);
      lastSidecarRestart = later(lastSidecarRestart, terminatedAt(cs));
    }
    if (terminated && int(terminated.exitCode) === 0) continue;
    if (sidecar && cs.started === true) {
      if (cs.ready === true) ready++;
      continue;
    }
    if (terminated) {
      if (str(terminated.reason)) reason = `Init:${str(terminated.reason)}`;
      else if (int(terminated.signal) !== 0) reason = `Init:Signal:${int(terminated.signal)}`;
      else reason = `Init:ExitCode:${int(terminated.exitCode)}`;
    } else if (waiting && str(waiting.reason) && waiting.reason !== 'PodInitializing') {
      reason = `Init:${str(waiting.reason)}`;
    } else {
      reason = `Init:${i}/${initSpecs.size}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || conditionTrue(status, 'Initialized')) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let running = false;
    const statuses = list(status.containerStatuses);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = statuses[i];
      const state = obj(cs.state);
      restarts += int(cs.restartCount);
      lastRestart = later(lastRestart, terminatedAt(cs));
      const waiting = obj(state.waiting);
      const terminated = state.terminated === undefined ? undefined : obj(state.terminated);
      if (str(waiting.reason)) reason = str(waiting.reason);
      else if (terminated && str(terminated.reason)) reason = str(terminated.reason);
      else if (terminated)
        reason =
          int(terminated.signal) !== 0
            ? `Signal:${int(terminated.signal)}`
            : `ExitCode:${int(terminated.exitCode)}`;
      else if (cs.ready === true && state.running !== undefined) {
        running = true;
        ready++;
      }
    }
    // A pod whose last container completed while another still runs is still running.
    if (reason === 'Completed' && running) reason = conditionTrue(status, 'Ready') ? 'Running' : 'NotReady';
  }

  if (pod.metadata?.deletionTimestamp) {
    if (status.reason === 'NodeLost') reason = 'Unknown';
    else if (phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';
  }

  const restartsCell =
    restarts !== 0 && lastRestart !== undefined
      ? `${restarts} (${humanDuration(now - lastRestart)} ago)`
      : String(restarts);
  return { ready: `${ready}/${total}`, status: reason, restarts: restartsCell };
}

const podPrinter: Printer = {
  columns: [
    NAME,
    col('Ready', 'string', 'How many of the containers in this pod are ready.'),
    col('Status', 'string', 'The aggregate status of the containers in this pod.'),
    col(
      'Restarts',
      'string',
      'How often the containers in this pod restarted, and when the last restart was.',
    ),
    AGE,
    col('IP', 'string', 'The IP address of the pod (status.podIPs).', { priority: 1 }),
    col('Node', 'string', 'The node the pod is bound to (spec.nodeName).', { priority: 1 }),
    col('Nominated Node', 'string', 'The node preemption made room on (status.nominatedNodeName).', {
      priority: 1,
    }),
    col('Readiness Gates', 'string', 'How many readiness gates of the pod are met.', { priority: 1 }),
  ],
  cells(pod, now) {
    const { ready, status, restarts } = podSummary(pod, now);
    const spec = obj(pod.spec);
    const st = obj(pod.status);
    const ip = str(list(st.podIPs)[0]?.ip) || str(st.podIP) || '<none>';
    const gates = list(spec.readinessGates);
    let gatesCell = '<none>';
    if (gates.length) {
      const conditions = list(st.conditions);
      const met = gates.filter((g) =>
        conditions.some((c) => c.type === g.conditionType && c.status === 'True'),
      ).length;
      gatesCell = `${met}/${gates.length}`;
    }
    return [
      pod.metadata.name ?? '',
      ready,
      status,
      restarts,
      age(pod, now),
      ip,
      str(spec.nodeName) || '<none>',
      str(st.nominatedNodeName) || '<none>',
      gatesCell,
    ];
  },
  conditions(pod) {
    const phase = obj(pod.status).phase;
    if (phase === 'Succeeded')
      return [
        {
          type: 'Completed',
          status: 'True',
          reason: 'Succeeded',
          message: 'The pod has completed successfully.',
        },
      ];
    if (phase === 'Failed')
      return [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }];
    return undefined;
  },
};

// ---------------------------------------------------------------------------------------------
// Workloads

const deploymentPrinter: Printer = {
  columns: [
    NAME,
    col('Ready', 'string', 'Ready pods out of the desired number.'),
    col('Up-to-date', 'string', 'Pods running the current template (status.updatedReplicas).'),
    col('Available', 'string', 'Pods available to serve (status.availableReplicas).'),
    AGE,
    CONTAINERS,
    IMAGES,
    col('Selector', 'string', 'The label selector of the pods (spec.selector).', { priority: 1 }),
  ],
  cells(d, now) {
    const spec = obj(d.spec);
    const st = obj(d.status);
    const [names, images] = containerCells(obj(spec.template).spec);
    return [
      d.metadata.name ?? '',
      `${int(st.readyReplicas)}/${int(spec.replicas)}`,
      int(st.updatedReplicas),
      int(st.availableReplicas),
      age(d, now),
      names,
      images,
      selectorString(spec.selector),
    ];
  },
};

const replicaSetPrinter: Printer = {
  columns: [
    NAME,
    col('Desired', 'integer', 'The number of pods wanted (spec.replicas).'),
    col('Current', 'integer', 'The number of pods that exist (status.replicas).'),
    col('Ready', 'integer', 'The number of ready pods (status.readyReplicas).'),
    AGE,
    CONTAINERS,
    IMAGES,
    col('Selector', 'string', 'The label selector of the pods (spec.selector).', { priority: 1 }),
  ],
  cells(rs, now) {
    const spec = obj(rs.spec);
    const st = obj(rs.status);
    const [names, images] = containerCells(obj(spec.template).spec);
    return [
      rs.metadata.name ?? '',
      int(spec.replicas),
      int(st.replicas),
      int(st.readyReplicas),
      age(rs, now),
      names,
      images,
      selectorString(spec.selector) || '<none>',
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// Cluster objects

/** Roles from `node-role.kubernetes.io/ROLE` labels and a non-empty `kubernetes.io/role`, sorted. */
export function nodeRoles(labels: Record<string, string> | undefined): string[] {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length);
      if (role) roles.add(role);
    } else if (k === 'kubernetes.io/role' && v) roles.add(v);
  }
  return [...roles].sort();
}

function nodeAddress(status: Loose, type: string): string {
  return str(list(status.addresses).find((a) => a.type === type)?.address) || '<none>';
}

const nodePrinter: Printer = {
  columns: [
    NAME,
    col('Status', 'string', 'The status of the node (its Ready condition).'),
    col('Roles', 'string', 'The roles of the node, from its node-role labels.'),
    AGE,
    col('Version', 'string', 'The kubelet version the node reports.'),
    col('Internal-IP', 'string', 'The first InternalIP address of the node.', { priority: 1 }),
    col('External-IP', 'string', 'The first ExternalIP address of the node.', { priority: 1 }),
    col('OS-Image', 'string', 'The OS image the node reports.', { priority: 1 }),
    col('Kernel-Version', 'string', 'The kernel version the node reports.', { priority: 1 }),
    col('Container-Runtime', 'string', 'The container runtime and version the node reports.', {
      priority: 1,
    }),
  ],
  cells(node, now) {
    const st = obj(node.status);
    const readyCond = list(st.conditions).find((c) => c.type === 'Ready');
    const status: string[] = [];
    if (readyCond) status.push(readyCond.status === 'True' ? 'Ready' : 'NotReady');
    else status.push('Unknown');
    if (obj(node.spec).unschedulable === true) status.push('SchedulingDisabled');
    const info = obj(st.nodeInfo);
    return [
      node.metadata.name ?? '',
      status.join(','),
      nodeRoles(node.metadata.labels).join(',') || '<none>',
      age(node, now),
      str(info.kubeletVersion),
      nodeAddress(st, 'InternalIP'),
      nodeAddress(st, 'ExternalIP'),
      str(info.osImage) || '<unknown>',
      str(info.kernelVersion) || '<unknown>',
      str(info.containerRuntimeVersion) || '<unknown>',
    ];
  },
};

const namespacePrinter: Printer = {
  columns: [NAME, col('Status', 'string', 'The phase of the namespace (Active, Terminating).'), AGE],
  // Kubernetes turns the phase to Terminating when the delete starts; Berth marks deletionTimestamp.
  cells: (ns, now) => [
    ns.metadata.name ?? '',
    ns.metadata.deletionTimestamp ? 'Terminating' : str(obj(ns.status).phase),
    age(ns, now),
  ],
};

const configMapPrinter: Printer = {
  columns: [NAME, col('Data', 'string', 'The number of keys in data and binaryData.'), AGE],
  cells: (cm, now) => [cm.metadata.name ?? '', keyCount(cm.data) + keyCount(cm.binaryData), age(cm, now)],
};

const secretPrinter: Printer = {
  columns: [
    NAME,
    col('Type', 'string', 'The type of the secret (Opaque, kubernetes.io/tls, ...).'),
    col('Data', 'string', 'The number of keys the secret holds.'),
    AGE,
  ],
  cells(s, now) {
    // stringData is written into data by Kubernetes; count its keys too if it is still separate.
    const keys = new Set([...Object.keys(obj(s.data)), ...Object.keys(obj(s.stringData))]);
    return [s.metadata.name ?? '', str(s.type), keys.size, age(s, now)];
  },
};

const leasePrinter: Printer = {
  columns: [NAME, col('Holder', 'string', 'Who holds the lease (spec.holderIdentity).'), AGE],
  cells: (l, now) => [l.metadata.name ?? '', str(obj(l.spec).holderIdentity), age(l, now)],
};

function eventSource(ev: KubeObject): string {
  const source = obj(ev.source);
  const component = str(source.component) || str(ev.reportingComponent);
  const host = str(source.host) || str(ev.reportingInstance);
  return host ? `${component}, ${host}` : component;
}

const eventPrinter: Printer = {
  columns: [
    col('Last Seen', 'string', 'When the event was last seen.'),
    col('Type', 'string', 'Normal or Warning.'),
    col('Reason', 'string', 'Why the event happened, in CamelCase.'),
    col('Object', 'string', 'The object the event is about (kind/name).'),
    col('Subobject', 'string', 'The part of the object, e.g. spec.containers{web}.', { priority: 1 }),
    col('Source', 'string', 'The component (and host) that reported the event.', { priority: 1 }),
    col('Message', 'string', 'What happened, for humans.'),
    col('First Seen', 'string', 'When the event was first seen.', { priority: 1 }),
    col('Count', 'string', 'How often the event happened.', { priority: 1 }),
    col('Name', 'string', 'The name of the event object.', { priority: 1, format: 'name' }),
  ],
  cells(ev, now) {
    const involved = obj(ev.involvedObject);
    const first = ev.firstTimestamp ? since(ev.firstTimestamp, now) : since(ev.eventTime, now);
    let last = ev.lastTimestamp ? since(ev.lastTimestamp, now) : first;
    let count = int(ev.count);
    if (ev.series && typeof ev.series === 'object') {
      const series = obj(ev.series);
      last = since(series.lastObservedTime, now);
      count = int(series.count);
    } else if (count === 0) count = 1;
    const kind = str(involved.kind).toLowerCase();
    const target = str(involved.name) ? `${kind}/${str(involved.name)}` : kind;
    return [
      last,
      str(ev.type),
      str(ev.reason),
      target,
      str(involved.fieldPath),
      eventSource(ev),
      str(ev.message).trim(),
      first,
      count,
      ev.metadata.name ?? '',
    ];
  },
};

/** For kinds without a printer of their own: name and age, as Kubernetes prints custom resources. */
export const DEFAULT_PRINTER: Printer = {
  columns: [NAME, AGE],
  cells: (o, now) => [o.metadata?.name ?? '', age(o, now)],
};

const PRINTERS: Record<string, Printer> = {
  Pod: podPrinter,
  Deployment: deploymentPrinter,
  ReplicaSet: replicaSetPrinter,
  Node: nodePrinter,
  Namespace: namespacePrinter,
  ConfigMap: configMapPrinter,
  Secret: secretPrinter,
  Event: eventPrinter,
  Lease: leasePrinter,
};

/** The printer of a kind (by Kind name), or the NAME/AGE default. */
export function printerFor(kind: string): Printer {
  return PRINTERS[kind] ?? DEFAULT_PRINTER;
}
