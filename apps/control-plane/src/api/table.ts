/**
 * meta.k8s.io Table responses (what `kubectl get` asks for with
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`): content negotiation, the Table of a
 * list or one object, rows carrying PartialObjectMetadata / the object / nothing (`includeObject`),
 * and the one-row Tables of a watch.
 */
import {
  ApiError,
  apiVersionOf,
  type KindInfo,
  type KubeObject,
  type ListMeta,
  type WatchEvent,
} from '@berth/api';
import { printerFor, type Cell, type ColumnDefinition, type RowCondition } from './table-printers';
import { parseAccept, type MediaRange } from './codec';

/** The meta.k8s.io versions a Table is served in. */
export type TableVersion = 'v1' | 'v1beta1';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export interface TableRow {
  cells: Cell[];
  conditions?: RowCondition[];
  object?: unknown;
}

export interface Table {
  kind: 'Table';
  apiVersion: string;
  metadata: ListMeta;
  columnDefinitions: ColumnDefinition[];
  rows: TableRow[];
}

function formatOf(m: MediaRange): TableVersion | 'json' | undefined {
  const { as, g, v } = m.params;
  if (as !== undefined || g !== undefined) {
    if (
      m.type === 'application/json' &&
      as === 'Table' &&
      g === 'meta.k8s.io' &&
      (v === 'v1' || v === 'v1beta1')
    )
      return v;
    return undefined; // PartialObjectMetadata, another group or version: not a form served here
  }
  if (m.type === 'application/json' || m.type === 'application/*' || m.type === '*/*') return 'json';
  return undefined;
}

/**
 * Whether a GET should answer with a Table: the acceptable media range with the highest q (the
 * earliest on ties) among Table v1, Table v1beta1 and plain JSON. kubectl sends
 * `…as=Table;v=v1;g=meta.k8s.io,…as=Table;v=v1beta1;g=meta.k8s.io,application/json`.
 * Anything else (no Accept, YAML, protobuf) keeps the plain JSON answer.
 */
export function negotiateTable(accept: string | string[] | undefined): TableVersion | undefined {
  const header = Array.isArray(accept) ? accept.join(',') : (accept ?? '');
  if (!header.includes('Table')) return undefined;
  const best = parseAccept(header)
    .map((m) => ({ m, f: formatOf(m) }))
    .filter((c) => c.f !== undefined)
    .sort((a, b) => b.m.q - a.m.q || a.m.index - b.m.index)[0];
  return best && best.f !== 'json' ? best.f : undefined;
}

/** The `includeObject` query parameter (default Metadata); anything else is 400. */
export function includeObjectOf(value: string | undefined): IncludeObject {
  if (value === undefined || value === '') return 'Metadata';
  if (value === 'None' || value === 'Metadata' || value === 'Object') return value;
  throw new ApiError(
    'BadRequest',
    `includeObject must be one of None, Metadata or Object, not ${JSON.stringify(value)}`,
  );
}

export interface TableOptions {
  version: TableVersion;
  includeObject: IncludeObject;
  /** Omit the column definitions (the watch events after the first: kubectl reuses the last ones). */
  noHeaders?: boolean;
  /** Milliseconds since the epoch that ages are measured against (default: now). */
  now?: number;
}

function rowObject(kind: KindInfo, o: KubeObject, version: TableVersion, include: IncludeObject): unknown {
  if (include === 'None') return null;
  if (include === 'Object')
    return { ...o, apiVersion: o.apiVersion ?? apiVersionOf(kind), kind: o.kind ?? kind.kind };
  return { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata: o.metadata };
}

/** The Table of `items` of one kind: one row per object, its cells from the kind's printer. */
export function toTable(kind: KindInfo, items: KubeObject[], metadata: ListMeta, opts: TableOptions): Table {
  const printer = printerFor(kind.kind);
  const now = opts.now ?? Date.now();
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${opts.version}`,
    metadata,
    columnDefinitions: opts.noHeaders ? [] : printer.columns,
    rows: items.map((o) => {
      const row: TableRow = { cells: printer.cells(o, now) };
      const conditions = printer.conditions?.(o);
      if (conditions) row.conditions = conditions;
      row.object = rowObject(kind, o, opts.version, opts.includeObject);
      return row;
    }),
  };
}

/**
 * A watch's events with each object as a one-row Table (kubectl `get -w`): column definitions in
 * the first such event only, as Kubernetes sends them; a BOOKMARK carries an empty Table holding
 * the resourceVersion; ERROR events keep their Status.
 */
export function tableWatchEncoder(
  kind: KindInfo,
  opts: Omit<TableOptions, 'noHeaders' | 'now'>,
): (ev: WatchEvent) => WatchEvent<unknown> {
  let headersSent = false;
  return (ev) => {
    if (ev.type === 'ERROR') return ev;
    const metadata: ListMeta = { resourceVersion: ev.object?.metadata?.resourceVersion };
    if (ev.type === 'BOOKMARK') {
      const t = toTable(kind, [], metadata, { ...opts, noHeaders: true });
      return { type: ev.type, object: t };
    }
    const t = toTable(kind, [ev.object], metadata, { ...opts, noHeaders: headersSent });
    headersSent = true;
    return { type: ev.type, object: t };
  };
}
