import { Command } from 'commander';
import { resolveKindName, toYaml, type KindInfo, type KubeObject } from '@berth/api';
import { age } from '../age';
import { CommandContext, kindArg, splitKindSlashName } from '../context';
import type { CliIO } from '../io';
import { formatTable, nodeStatus, podStatus } from '../printers';

/** Values start in column 20, or two spaces after a longer label. */
function valueColumn(head: string): number {
  return Math.max(20, head.length + 2);
}

/** Lines of `Label:  value`, values aligned as kubectl's describe does. */
class Writer {
  private lines: string[] = [];
  field(label: string, value: string | number | undefined, indent = 0): void {
    const pad = ' '.repeat(indent);
    const head = `${pad}${label}:`;
    const v = value === undefined || value === '' ? '<none>' : String(value);
    this.lines.push(
      v.includes('\n') ? `${head}\n${indentText(v, indent + 2)}` : `${head.padEnd(valueColumn(head))}${v}`,
    );
  }
  map(label: string, m: Record<string, string> | undefined, indent = 0): void {
    const entries = Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
    if (!entries.length) return this.field(label, '<none>', indent);
    const width = valueColumn(`${' '.repeat(indent)}${label}:`);
    entries.forEach(([k, v], i) => {
      const head = i === 0 ? `${' '.repeat(indent)}${label}:` : '';
      this.lines.push(`${head.padEnd(width)}${k}=${v}`);
    });
  }
  section(label: string, indent = 0): void {
    this.lines.push(`${' '.repeat(indent)}${label}:`);
  }
  raw(text: string): void {
    this.lines.push(text);
  }
  toString(): string {
    return this.lines.join('\n') + '\n';
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

function describeBody(w: Writer, kind: KindInfo, o: KubeObject, now: number): void {
  const spec = o.spec ?? {};
  const status = o.status ?? {};
  switch (kind.kind) {
    case 'Pod':
      w.field('Node', spec.nodeName);
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
      }
      w.section('Pod Template');
      w.map('Labels', spec.template?.metadata?.labels, 2);
      describeContainers(w, spec.template?.spec?.containers ?? [], undefined, 2);
      if (status.conditions?.length) {
        w.section('Conditions');
        const rows = [
          ['Type', 'Status', 'Reason'],
          ...status.conditions.map((c: { type: string; status: string; reason?: string }) => [
            c.type,
            c.status,
            c.reason ?? '',
          ]),
        ];
        w.raw(indentText(formatTable(rows).text, 2));
      }
      break;
    }
    case 'Node': {
      w.field('Status', nodeStatus(o));
      w.field('Unschedulable', String(!!spec.unschedulable));
      if (status.conditions?.length) {
        w.section('Conditions');
        const rows = [
          ['Type', 'Status', 'LastHeartbeatTime', 'Reason', 'Message'],
          ...status.conditions.map((c: Record<string, string>) => [
            c.type,
            c.status,
            c.lastHeartbeatTime ?? '',
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
      if (status.capacity)
        w.field(
          'Capacity',
          Object.entries(status.capacity)
            .map(([k, v]) => `${k}: ${v}`)
            .join('\n'),
        );
      if (status.allocatable)
        w.field(
          'Allocatable',
          Object.entries(status.allocatable)
            .map(([k, v]) => `${k}: ${v}`)
            .join('\n'),
        );
      if (status.nodeInfo)
        w.field(
          'System Info',
          Object.entries(status.nodeInfo)
            .map(([k, v]) => `${k}: ${v}`)
            .join('\n'),
        );
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
  w.map('Annotations', o.metadata.annotations);
  if (o.metadata.deletionTimestamp) w.field('Terminating Since', o.metadata.deletionTimestamp);
  describeBody(w, kind, o, now);
  if (kind.kind !== 'Event') {
    const evKind = resolveKindName('events')!;
    let events: KubeObject[] = [];
    try {
      const list = await ctx.client.listAll(evKind, {
        namespace: kind.namespaced ? o.metadata.namespace : undefined,
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
