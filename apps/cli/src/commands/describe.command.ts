import { Command } from 'commander';
import {
  formatQuantity,
  resolveKindName,
  toYaml,
  tryParseQuantity,
  type KindInfo,
  type KubeObject,
} from '@berth/api';
import { age } from '../age';
import { CommandContext, kindArg, splitKindSlashName } from '../context';
import type { CliIO } from '../io';
import { formatTable, nodeStatus, podStatus } from '../printers';
import { isControlledBy, newAndOldReplicaSets } from '../workloads';

/** Values start in column 20, or two spaces after a longer label. */
function valueColumn(head: string): number {
  return Math.max(20, head.length + 2);
}

/**
 * Lines of `Label:  value`, values aligned as kubectl's describe does: top-level values line up
 * in one column (20, or two past the longest top-level label), nested ones per line.
 */
class Writer {
  private lines: ({ head: string; value: string } | string)[] = [];
  field(label: string, value: string | number | undefined, indent = 0): void {
    const pad = ' '.repeat(indent);
    const head = `${pad}${label}:`;
    const v = value === undefined || value === '' ? '<none>' : String(value);
    if (v.includes('\n')) this.lines.push(`${head}\n${indentText(v, indent + 2)}`);
    else this.push(head, v, indent);
  }
  /** Labels print `k=v`, annotations `k: v` (sep), as kubectl. */
  map(label: string, m: Record<string, string> | undefined, indent = 0, sep = '='): void {
    const entries = Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
    if (!entries.length) return this.field(label, '<none>', indent);
    const head = `${' '.repeat(indent)}${label}:`;
    entries.forEach(([k, v], i) => this.push(i === 0 ? head : '', `${k}${sep}${v}`, indent, head));
  }
  section(label: string, indent = 0): void {
    this.lines.push(`${' '.repeat(indent)}${label}:`);
  }
  raw(text: string): void {
    this.lines.push(text);
  }
  toString(): string {
    const top = Math.max(
      20,
      ...this.lines.map((l) => (typeof l === 'string' || l.head.startsWith(' ') ? 0 : l.head.length + 2)),
    );
    return (
      this.lines
        .map((l) => (typeof l === 'string' ? l : l.head.padEnd(l.head.startsWith(' ') ? 0 : top) + l.value))
        .join('\n') + '\n'
    );
  }
  /** Top-level lines are padded at toString; nested ones now. `owner` is the label a continuation belongs to. */
  private push(head: string, value: string, indent: number, owner = head): void {
    if (indent === 0) this.lines.push({ head, value });
    else this.lines.push(`${head.padEnd(valueColumn(owner))}${value}`);
  }
}

function indentText(text: string, n: number): string {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');
}

interface ContainerSpec {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  ports?: { containerPort?: number; protocol?: string }[];
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  env?: { name: string; value?: string }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
}

interface Probe {
  exec?: { command?: string[] };
  httpGet?: { path?: string; port: number | string; host?: string; scheme?: string };
  tcpSocket?: { port: number | string; host?: string };
  grpc?: { port: number; service?: string };
  initialDelaySeconds?: number;
  timeoutSeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

/** kubectl's one-line probe: `http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3`. */
export function describeProbe(p: Probe): string {
  const attrs =
    `delay=${p.initialDelaySeconds ?? 0}s timeout=${p.timeoutSeconds ?? 1}s period=${p.periodSeconds ?? 10}s ` +
    `#success=${p.successThreshold ?? 1} #failure=${p.failureThreshold ?? 3}`;
  if (p.exec) return `exec [${(p.exec.command ?? []).join(' ')}] ${attrs}`;
  if (p.httpGet) {
    const scheme = (p.httpGet.scheme ?? 'HTTP').toLowerCase();
    const host = p.httpGet.host ?? '';
    const path = p.httpGet.path ?? '';
    return `http-get ${scheme}://${host}:${p.httpGet.port}${path.startsWith('/') || !path ? path : '/' + path} ${attrs}`;
  }
  if (p.tcpSocket) return `tcp-socket ${p.tcpSocket.host ?? ''}:${p.tcpSocket.port} ${attrs}`;
  if (p.grpc) return `grpc <pod>:${p.grpc.port} ${p.grpc.service ?? ''} ${attrs}`;
  return `unknown ${attrs}`;
}
type State = Record<string, Record<string, unknown> | undefined>;

function describeState(w: Writer, label: string, state: State | undefined, indent: number): void {
  const [name, detail] = Object.entries(state ?? {}).find(([, v]) => v) ?? [];
  if (!name) return w.field(label, 'Waiting', indent);
  w.field(label, name[0].toUpperCase() + name.slice(1), indent);
  const d = detail ?? {};
  if (d.reason) w.field('Reason', String(d.reason), indent + 2);
  if (d.message) w.field('Message', String(d.message), indent + 2);
  if (d.exitCode !== undefined) w.field('Exit Code', String(d.exitCode), indent + 2);
  if (d.signal !== undefined) w.field('Signal', String(d.signal), indent + 2);
  if (d.startedAt) w.field('Started', String(d.startedAt), indent + 2);
  if (d.finishedAt) w.field('Finished', String(d.finishedAt), indent + 2);
}

function describeContainers(
  w: Writer,
  containers: ContainerSpec[],
  statuses: Record<string, unknown>[] | undefined,
  indent = 0,
): void {
  w.section('Containers', indent);
  for (const c of containers) {
    w.section(`  ${c.name}`, indent);
    const i = indent + 4;
    w.field('Image', c.image, i);
    if (c.command?.length) w.field('Command', c.command.join(' '), i);
    if (c.args?.length) w.field('Args', c.args.join(' '), i);
    if (c.ports?.length)
      w.field('Ports', c.ports.map((p) => `${p.containerPort}/${p.protocol ?? 'TCP'}`).join(', '), i);
    const st = statuses?.find((s) => s.name === c.name);
    if (statuses) {
      describeState(w, 'State', st?.state as State, i);
      if (st?.lastState && Object.values(st.lastState as State).some(Boolean))
        describeState(w, 'Last State', st.lastState as State, i);
      w.field('Ready', st ? String(!!st.ready) : 'False', i);
      w.field('Restart Count', String(st?.restartCount ?? 0), i);
    }
    if (c.resources?.limits) w.map('Limits', c.resources.limits, i);
    if (c.resources?.requests) w.map('Requests', c.resources.requests, i);
    if (c.livenessProbe) w.field('Liveness', describeProbe(c.livenessProbe), i);
    if (c.readinessProbe) w.field('Readiness', describeProbe(c.readinessProbe), i);
    if (c.startupProbe) w.field('Startup', describeProbe(c.startupProbe), i);
    if (c.env?.length)
      w.field(
        'Environment',
        c.env.map((e) => `${e.name}: ${e.value ?? '<set from a source>'}`).join('\n'),
        i,
      );
  }
}

function controlledBy(o: KubeObject): string | undefined {
  const ref = (o.metadata.ownerReferences ?? []).find((r) => r.controller);
  return ref ? `${ref.kind}/${ref.name}` : undefined;
}

/** The `Pod Template:` section of a Deployment, ReplicaSet or `rollout history --revision`. */
export function describePodTemplate(template: KubeObject['spec']): string {
  const w = new Writer();
  w.section('Pod Template');
  w.map('Labels', template?.metadata?.labels, 2);
  if (Object.keys(template?.metadata?.annotations ?? {}).length)
    w.map('Annotations', template.metadata.annotations, 2, ': ');
  describeContainers(w, template?.spec?.containers ?? [], undefined, 2);
  return w.toString();
}

type Resources = { requests?: Record<string, string>; limits?: Record<string, string> };

/** A pod's total request or limit of one resource: the containers' sum, or the largest init container's. */
function podResource(pod: KubeObject, which: 'requests' | 'limits', name: string): number {
  const get = (c: { resources?: Resources }) => tryParseQuantity(c.resources?.[which]?.[name] ?? '0') ?? 0;
  const sum = ((pod.spec?.containers ?? []) as { resources?: Resources }[]).reduce((a, c) => a + get(c), 0);
  const init = ((pod.spec?.initContainers ?? []) as { resources?: Resources }[]).reduce(
    (a, c) => Math.max(a, get(c)),
    0,
  );
  return Math.max(sum, init);
}

function quantityText(v: number, name: string): string {
  return formatQuantity(v, name === 'cpu' ? 'DecimalSI' : 'BinarySI');
}

function percentOf(v: number, total: number): string {
  return total > 0 ? `${Math.floor((v / total) * 100)}%` : '0%';
}

/** Node: `Non-terminated Pods` and `Allocated resources`, as kubectl shows them. */
function describeNodePods(
  w: Writer,
  pods: KubeObject[],
  allocatable: Record<string, string>,
  now: number,
): void {
  const running = pods.filter((p) => !['Succeeded', 'Failed'].includes(p.status?.phase));
  const alloc = (name: string) => tryParseQuantity(allocatable[name] ?? '0') ?? 0;
  const cell = (p: KubeObject, which: 'requests' | 'limits', name: string) => {
    const v = podResource(p, which, name);
    return `${quantityText(v, name)} (${percentOf(v, alloc(name))})`;
  };
  w.field('Non-terminated Pods', `(${running.length} in total)`);
  if (running.length) {
    const rows = [
      ['Namespace', 'Name', 'CPU Requests', 'CPU Limits', 'Memory Requests', 'Memory Limits', 'Age'],
      ['---------', '----', '------------', '----------', '---------------', '-------------', '---'],
      ...running.map((p) => [
        p.metadata.namespace ?? '',
        p.metadata.name ?? '',
        cell(p, 'requests', 'cpu'),
        cell(p, 'limits', 'cpu'),
        cell(p, 'requests', 'memory'),
        cell(p, 'limits', 'memory'),
        age(p.metadata.creationTimestamp, now),
      ]),
    ];
    w.raw(indentText(formatTable(rows).text, 2));
  }
  w.section('Allocated resources');
  w.raw('  (Total limits may be over 100 percent, i.e., overcommitted.)');
  const rows = [
    ['Resource', 'Requests', 'Limits'],
    ['--------', '--------', '------'],
    ...['cpu', 'memory'].map((name) => {
      const req = running.reduce((a, p) => a + podResource(p, 'requests', name), 0);
      const lim = running.reduce((a, p) => a + podResource(p, 'limits', name), 0);
      return [
        name,
        `${quantityText(req, name)} (${percentOf(req, alloc(name))})`,
        `${quantityText(lim, name)} (${percentOf(lim, alloc(name))})`,
      ];
    }),
  ];
  w.raw(indentText(formatTable(rows).text, 2));
}

/**
 * The objects a kind's description also shows: a Deployment's ReplicaSets, a ReplicaSet's pods,
 * the pods bound to a Node. A failure to list them leaves those lines empty.
 */
async function relatedObjects(ctx: CommandContext, kind: KindInfo, o: KubeObject): Promise<KubeObject[]> {
  try {
    // Narrowed by the selector's matchLabels; ownership is checked on what comes back.
    const labelSelector =
      Object.entries((o.spec?.selector?.matchLabels ?? {}) as Record<string, string>)
        .map(([k, v]) => `${k}=${v}`)
        .join(',') || undefined;
    const namespace = o.metadata.namespace;
    switch (kind.kind) {
      case 'Deployment':
        return (await ctx.client.listAll(resolveKindName('rs')!, { namespace, labelSelector })).items;
      case 'ReplicaSet':
        return (await ctx.client.listAll(resolveKindName('pods')!, { namespace, labelSelector })).items;
      case 'Node':
        return (
          await ctx.client.listAll(resolveKindName('pods')!, {
            fieldSelector: `spec.nodeName=${o.metadata.name}`,
          })
        ).items;
      default:
        return [];
    }
  } catch {
    return [];
  }
}

function describeBody(
  w: Writer,
  kind: KindInfo,
  o: KubeObject,
  now: number,
  related: KubeObject[] = [],
): void {
  const spec = o.spec ?? {};
  const status = o.status ?? {};
  switch (kind.kind) {
    case 'Pod':
      w.field('Node', spec.nodeName && status.hostIP ? `${spec.nodeName}/${status.hostIP}` : spec.nodeName);
      w.field('Start Time', status.startTime);
      w.field('Status', podStatus(o));
      w.field('IP', status.podIP);
      if (controlledBy(o)) w.field('Controlled By', controlledBy(o));
      describeContainers(w, spec.containers ?? [], status.containerStatuses ?? []);
      if (status.conditions?.length) {
        w.section('Conditions');
        const rows = [
          ['Type', 'Status'],
          ...status.conditions.map((c: { type: string; status: string }) => [c.type, c.status]),
        ];
        w.raw(indentText(formatTable(rows).text, 2));
      }
      w.field('Restart Policy', spec.restartPolicy);
      w.map('Node-Selectors', spec.nodeSelector);
      break;
    case 'Deployment':
    case 'ReplicaSet': {
      const sel = spec.selector?.matchLabels as Record<string, string> | undefined;
      w.field(
        'Selector',
        Object.entries(sel ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      );
      const desired = spec.replicas ?? 1;
      if (kind.kind === 'Deployment') {
        const unavailable =
          status.unavailableReplicas ?? Math.max(0, (status.replicas ?? 0) - (status.availableReplicas ?? 0));
        w.field(
          'Replicas',
          `${desired} desired | ${status.updatedReplicas ?? 0} updated | ${status.replicas ?? 0} total | ${status.availableReplicas ?? 0} available | ${unavailable} unavailable`,
        );
        const strategy = spec.strategy ?? {};
        w.field('StrategyType', strategy.type ?? 'RollingUpdate');
        w.field('MinReadySeconds', spec.minReadySeconds ?? 0);
        if ((strategy.type ?? 'RollingUpdate') === 'RollingUpdate') {
          const ru = strategy.rollingUpdate ?? {};
          w.field(
            'RollingUpdateStrategy',
            `${ru.maxUnavailable ?? '25%'} max unavailable, ${ru.maxSurge ?? '25%'} max surge`,
          );
        }
      } else {
        if (controlledBy(o)) w.field('Controlled By', controlledBy(o));
        w.field('Replicas', `${status.replicas ?? 0} current / ${desired} desired`);
        const pods = related.filter((p) => isControlledBy(p, o));
        const phase = (ph: string) => pods.filter((p) => (p.status?.phase ?? 'Pending') === ph).length;
        w.field(
          'Pods Status',
          `${phase('Running')} Running / ${phase('Pending')} Waiting / ${phase('Succeeded')} Succeeded / ${phase('Failed')} Failed`,
        );
      }
      w.raw(describePodTemplate(spec.template ?? {}).replace(/\n$/, ''));
      if (status.conditions?.length) {
        w.section('Conditions');
        const rows = [
          ['Type', 'Status', 'Reason'],
          ['----', '------', '------'],
          ...status.conditions.map((c: { type: string; status: string; reason?: string }) => [
            c.type,
            c.status,
            c.reason ?? '',
          ]),
        ];
        w.raw(indentText(formatTable(rows).text, 2));
      }
      if (kind.kind === 'Deployment') {
        const { newRs, old } = newAndOldReplicaSets(o, related);
        const created = (rs: KubeObject) =>
          `${rs.metadata.name} (${rs.status?.replicas ?? 0}/${rs.spec?.replicas ?? 1} replicas created)`;
        w.field('OldReplicaSets', old.length ? old.map(created).join(', ') : '<none>');
        w.field('NewReplicaSet', newRs ? created(newRs) : '<none>');
      }
      break;
    }
    case 'Node': {
      w.field('Status', nodeStatus(o));
      const taints = (spec.taints ?? []) as { key: string; value?: string; effect: string }[];
      w.field(
        'Taints',
        taints.length
          ? taints.map((t) => `${t.key}${t.value ? '=' + t.value : ''}:${t.effect}`).join('\n')
          : '<none>',
      );
      w.field('Unschedulable', String(!!spec.unschedulable));
      if (status.conditions?.length) {
        w.section('Conditions');
        const rows = [
          ['Type', 'Status', 'LastHeartbeatTime', 'LastTransitionTime', 'Reason', 'Message'],
          ['----', '------', '-----------------', '------------------', '------', '-------'],
          ...status.conditions.map((c: Record<string, string>) => [
            c.type,
            c.status,
            c.lastHeartbeatTime ?? '',
            c.lastTransitionTime ?? '',
            c.reason ?? '',
            c.message ?? '',
          ]),
        ];
        w.raw(indentText(formatTable(rows).text, 2));
      }
      w.field(
        'Addresses',
        (status.addresses ?? [])
          .map((a: { type: string; address: string }) => `${a.type}: ${a.address}`)
          .join('\n'),
      );
      for (const [label, m] of [
        ['Capacity', status.capacity],
        ['Allocatable', status.allocatable],
        ['System Info', status.nodeInfo],
      ] as const) {
        if (!m) continue;
        w.field(
          label,
          Object.entries(m as Record<string, string>)
            .map(([k, v]) => `${k}: ${v}`)
            .join('\n'),
        );
      }
      describeNodePods(w, related, status.allocatable ?? {}, now);
      break;
    }
    case 'Namespace':
      w.field('Status', status.phase ?? 'Active');
      break;
    case 'ConfigMap':
      w.raw('\nData\n====');
      for (const [k, v] of Object.entries((o.data ?? {}) as Record<string, string>))
        w.raw(`${k}:\n----\n${v}\n`);
      w.raw('\nBinaryData\n====');
      for (const [k, v] of Object.entries((o.binaryData ?? {}) as Record<string, string>))
        w.raw(`${k}: ${Buffer.from(v, 'base64').length} bytes`);
      break;
    case 'Secret':
      w.field('Type', o.type ?? 'Opaque');
      w.raw('\nData\n====');
      for (const [k, v] of Object.entries((o.data ?? {}) as Record<string, string>))
        w.raw(`${k}:  ${Buffer.from(v, 'base64').length} bytes`);
      break;
    case 'Event':
      w.field('Type', o.type);
      w.field('Reason', o.reason);
      w.field('Object', o.involvedObject ? `${o.involvedObject.kind}/${o.involvedObject.name}` : undefined);
      w.field('Message', o.message);
      w.field('Count', o.count);
      w.field('Last Seen', age(o.lastTimestamp ?? o.metadata.creationTimestamp, now));
      break;
    default:
      if (o.spec) w.field('Spec', toYaml(o.spec));
      if (o.status) w.field('Status', toYaml(o.status));
  }
}

/** The Events section: events whose involvedObject is this object, oldest first. */
function describeEvents(w: Writer, events: KubeObject[], now: number): void {
  if (!events.length) {
    w.field('Events', '<none>');
    return;
  }
  w.section('Events');
  const sorted = [...events].sort((a, b) =>
    String(a.lastTimestamp ?? a.metadata.creationTimestamp ?? '').localeCompare(
      String(b.lastTimestamp ?? b.metadata.creationTimestamp ?? ''),
    ),
  );
  const rows = [
    ['Type', 'Reason', 'Age', 'From', 'Message'],
    ['----', '------', '----', '----', '-------'],
    ...sorted.map((e) => {
      const seen = age(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp, now);
      const count = (e.count ?? 1) > 1 ? ` (x${e.count} over ${age(e.firstTimestamp, now)})` : '';
      return [
        e.type ?? '',
        e.reason ?? '',
        seen + count,
        e.source?.component ?? e.reportingComponent ?? '',
        String(e.message ?? '').replace(/\s*\n\s*/g, ' '),
      ];
    }),
  ];
  w.raw(indentText(formatTable(rows).text, 2));
}

export async function describeObject(ctx: CommandContext, kind: KindInfo, o: KubeObject): Promise<string> {
  const now = ctx.io.now();
  const w = new Writer();
  w.field('Name', o.metadata.name);
  if (kind.namespaced) w.field('Namespace', o.metadata.namespace);
  w.field('CreationTimestamp', o.metadata.creationTimestamp);
  w.map('Labels', o.metadata.labels);
  const annotations = { ...(o.metadata.annotations ?? {}) };
  delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
  w.map('Annotations', annotations, 0, ': ');
  if (o.metadata.deletionTimestamp) w.field('Terminating Since', o.metadata.deletionTimestamp);
  describeBody(w, kind, o, now, await relatedObjects(ctx, kind, o));
  if (kind.kind !== 'Event') {
    const evKind = resolveKindName('events')!;
    let events: KubeObject[] = [];
    try {
      const list = await ctx.client.listAll(evKind, {
        namespace: kind.namespaced ? o.metadata.namespace : undefined,
        fieldSelector: `involvedObject.kind=${o.kind},involvedObject.name=${o.metadata.name}`,
      });
      events = (list.items ?? []).filter(
        (e) =>
          e.involvedObject?.kind === o.kind &&
          e.involvedObject?.name === o.metadata.name &&
          (!kind.namespaced ||
            (e.involvedObject?.namespace ?? e.metadata.namespace) === o.metadata.namespace) &&
          (!e.involvedObject?.uid || !o.metadata.uid || e.involvedObject.uid === o.metadata.uid),
      );
    } catch {
      // Events are a courtesy: describe still shows the object.
    }
    describeEvents(w, events, now);
  }
  return w.toString();
}

export async function runDescribe(ctx: CommandContext, kindName: string, names: string[]): Promise<number> {
  let kind: KindInfo;
  const slash = splitKindSlashName(kindName);
  if (slash) {
    kind = slash.kind;
    names = [slash.name, ...names];
  } else kind = kindArg(kindName);
  const namespace = kind.namespaced ? ctx.namespace : undefined;
  let objects: KubeObject[];
  if (names.length) objects = await Promise.all(names.map((n) => ctx.client.get(kind, namespace, n)));
  else objects = (await ctx.client.listAll(kind, { namespace })).items ?? [];
  const texts: string[] = [];
  for (const o of objects) texts.push(await describeObject(ctx, kind, o));
  if (!texts.length)
    ctx.err(kind.namespaced ? `No resources found in ${namespace} namespace.\n` : 'No resources found\n');
  ctx.out(texts.join('\n\n'));
  return 0;
}

export function registerDescribe(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('describe')
    .description('Show the details of objects, with their recent events')
    .argument('<kind>', 'the kind, e.g. pod, deploy, node (or kind/name)')
    .argument('[name...]', 'names (default: every object of the kind in the namespace)')
    .addHelpText(
      'after',
      '\nExamples:\n  berthctl describe pod web-7d9f-abcde\n  berthctl describe deploy/web',
    )
    .action(async function (this: Command, kind: string, names: string[]) {
      setExit(await runDescribe(CommandContext.of(this, io), kind, names));
    });
}
