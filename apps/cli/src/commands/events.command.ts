import { Command } from 'commander';
import { resolveKindName, type KubeObject } from '@berth/api';
import { age } from '../age';
import { ApiError } from '@berth/api';
import { CommandContext, splitKindSlashName } from '../context';
import { EXIT, UsageError } from '../errors';
import type { CliIO } from '../io';
import { createPrinter, formatTable } from '../printers';

const EVENTS = resolveKindName('events')!;

export interface EventsFlags {
  allNamespaces?: boolean;
  for?: string;
  types?: string;
  watch?: boolean;
  output?: string;
}

/** When the event last happened: lastTimestamp, else eventTime, else firstTimestamp (else creation). */
export function eventTimestamp(e: KubeObject): string {
  return (
    e.lastTimestamp ||
    e.series?.lastObservedTime ||
    e.eventTime ||
    e.firstTimestamp ||
    e.metadata.creationTimestamp ||
    ''
  );
}

/** Oldest first, by eventTimestamp. */
export function sortEvents(events: KubeObject[]): KubeObject[] {
  return [...events].sort((a, b) => {
    const ta = Date.parse(eventTimestamp(a)) || 0;
    const tb = Date.parse(eventTimestamp(b)) || 0;
    return ta - tb;
  });
}

/** kubectl events' LAST SEEN: `2m`, or `10s (x5 over 3m)` for an event seen more than once. */
export function eventLastSeen(e: KubeObject, now: number): string {
  if (e.series && (e.series.count ?? 0) > 1)
    return `${age(e.series.lastObservedTime || eventTimestamp(e), now)} (x${e.series.count} over ${age(e.eventTime || e.firstTimestamp, now)})`;
  if ((e.count ?? 0) > 1)
    return `${age(eventTimestamp(e), now)} (x${e.count} over ${age(e.firstTimestamp || e.eventTime || e.metadata.creationTimestamp, now)})`;
  return age(eventTimestamp(e), now);
}

/** The table rows (no header) of events as `berthctl events` shows them. */
export function eventRow(e: KubeObject, now: number, allNamespaces: boolean): string[] {
  const row = [
    eventLastSeen(e, now),
    e.type ?? '',
    e.reason ?? '',
    e.involvedObject ? `${e.involvedObject.kind ?? ''}/${e.involvedObject.name ?? ''}` : '',
    String(e.message ?? '')
      .trim()
      .replace(/\s*\n\s*/g, ' '),
  ];
  return allNamespaces ? [e.metadata.namespace ?? '', ...row] : row;
}

function parseTypes(text: string | undefined): Set<string> | undefined {
  if (text === undefined) return undefined;
  const out = new Set<string>();
  for (const t of text.split(',').map((x) => x.trim())) {
    const norm = t.toLowerCase() === 'normal' ? 'Normal' : t.toLowerCase() === 'warning' ? 'Warning' : '';
    if (!norm)
      throw new UsageError(`valid --types are Normal or Warning, not "${t}"`, 'e.g. --types=Warning');
    out.add(norm);
  }
  return out;
}

/** The field selector of --for KIND/NAME. */
export function forSelector(text: string): string {
  const s = splitKindSlashName(text);
  if (s) return `involvedObject.kind=${s.kind.kind},involvedObject.name=${s.name}`;
  if (text.includes('/'))
    throw new UsageError(
      `--for must be KIND/NAME, not "${text}"`,
      'e.g. --for pod/web-1 or --for deploy/web',
    );
  // A bare name: kubectl takes it as a pod.
  return `involvedObject.kind=Pod,involvedObject.name=${text}`;
}

export async function runEvents(
  ctx: CommandContext,
  flags: EventsFlags,
  signal?: AbortSignal,
): Promise<number> {
  const output = flags.output ?? '';
  if (output !== '' && output !== 'json' && output !== 'yaml')
    throw new UsageError(
      `unknown output format "${output}": allowed formats are json, yaml`,
      'omit -o for the default table',
    );
  const types = parseTypes(flags.types);
  const fieldSelector = flags.for ? forSelector(flags.for) : undefined;
  const all = !!flags.allNamespaces;
  const namespace = all ? undefined : ctx.namespace;
  const keep = (e: KubeObject) => !types || types.has(e.type ?? '');
  const now = () => ctx.io.now();

  const list = await ctx.client.listAll(EVENTS, { namespace, fieldSelector, limit: 500 });
  const events = sortEvents((list.items ?? []).filter(keep));
  const rv = list.metadata?.resourceVersion;
  const header = all
    ? ['NAMESPACE', 'LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']
    : ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'];
  let widths: number[] | undefined;
  if (output) {
    const printer = createPrinter(output, { kind: EVENTS, now: now() });
    if (events.length || !flags.watch) ctx.out(printer.print(events, false));
    if (!flags.watch) return EXIT.OK;
    return watchEvents(ctx, namespace, fieldSelector, rv, keep, signal, (e) =>
      ctx.out(printer.printEvent('ADDED', e)),
    );
  }
  if (events.length) {
    const t = formatTable([header, ...events.map((e) => eventRow(e, now(), all))]);
    widths = t.widths;
    ctx.out(t.text);
  } else if (!flags.watch) {
    ctx.err(all ? 'No events found.\n' : `No events found in ${namespace} namespace.\n`);
    return EXIT.OK;
  }
  if (!flags.watch) return EXIT.OK;
  return watchEvents(ctx, namespace, fieldSelector, rv, keep, signal, (e) => {
    const rows = widths ? [eventRow(e, now(), all)] : [header, eventRow(e, now(), all)];
    const t = formatTable(rows, widths);
    widths = t.widths;
    ctx.out(t.text);
  });
}

/** -w: each new or changed event after `rv`, until the signal aborts (or the process ends). */
async function watchEvents(
  ctx: CommandContext,
  namespace: string | undefined,
  fieldSelector: string | undefined,
  rv: string | undefined,
  keep: (e: KubeObject) => boolean,
  signal: AbortSignal | undefined,
  print: (e: KubeObject) => void,
): Promise<number> {
  while (!signal?.aborted) {
    const started = Date.now();
    try {
      for await (const ev of ctx.client.watch(
        EVENTS,
        { namespace, fieldSelector, resourceVersion: rv, allowBookmarks: true },
        signal,
      )) {
        rv = ev.object?.metadata?.resourceVersion ?? rv;
        if ((ev.type === 'ADDED' || ev.type === 'MODIFIED') && keep(ev.object)) print(ev.object);
      }
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 410)) throw e;
      // Too far behind: go on from now (what happened meanwhile is not replayed).
      rv = (await ctx.client.list(EVENTS, { namespace, fieldSelector, limit: 1 })).metadata?.resourceVersion;
    }
    if (Date.now() - started < 1000) await new Promise((r) => setTimeout(r, 1000));
  }
  return EXIT.OK;
}

export function registerEvents(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('events')
    .description('List events (what controllers, the scheduler and agents report), oldest first')
    .option('-A, --all-namespaces', 'events of every namespace')
    .option('--for <kind/name>', 'only the events about this object, e.g. pod/web-1 or deploy/web')
    .option('--types <types>', 'only these types: Normal, Warning (comma-separated)')
    .option('-w, --watch', 'after listing, print new events as they come')
    .option('-o, --output <format>', 'json or yaml (default: a table)')
    .addHelpText(
      'after',
      `
Examples:
  berthctl events
  berthctl events -A --types Warning
  berthctl events --for deploy/web -w`,
    )
    .action(async function (this: Command, opts: EventsFlags) {
      setExit(await runEvents(CommandContext.of(this, io), opts));
    });
}
