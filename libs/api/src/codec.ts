/**
 * The manifest codec: multi-document YAML and JSON in, Kubernetes-shaped objects out, each able to
 * say where a field path sits in its source (so the CLI can print `file:line:col: field: message`).
 * Printing back (`toYaml`, `toJson`) follows kubectl's look.
 *
 * YAML is read as YAML 1.1, as Kubernetes' own decoder does (`yes`/`on` are booleans, `0644` is
 * octal), except that timestamps stay strings, as they do in Kubernetes.
 */
import {
  Alias,
  Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  stringify,
  YAMLError,
  type Node as YamlNode,
  type Tags,
} from 'yaml';
import type { StatusCause } from './errors';
import type { KubeObject } from './meta';

export interface SourcePosition {
  /** 1-based */
  line: number;
  /** 1-based */
  col: number;
}

export interface ParsedManifest {
  object: KubeObject;
  file?: string;
  /** 0-based position of this object among the objects of its file (after flattening Lists). */
  index: number;
  /**
   * Where a field path (`spec.template.spec.containers[0].image`, `metadata.labels[app]`) is in
   * the source. A path to a field that is not in the source resolves to its nearest existing
   * parent. Undefined only when the object was not read from text.
   */
  position(fieldPath: string): SourcePosition | undefined;
}

/** A manifest that cannot be read; the message is `file:line:col: what`. */
export class ManifestError extends Error {
  constructor(
    readonly file: string | undefined,
    readonly line: number,
    readonly col: number,
    readonly detail: string,
  ) {
    super(`${formatLocation(file, line, col)}: ${detail}`);
    this.name = 'ManifestError';
  }
}

function formatLocation(file: string | undefined, line: number, col: number): string {
  return file ? `${file}:${line}:${col}` : `${line}:${col}`;
}

/** One segment of a field path: a mapping key or a sequence index. */
export type FieldPathSegment = string | number;

/**
 * Splits `spec.containers[0].env[1].name` or `metadata.labels[app.kubernetes.io/name]` into
 * segments. Brackets around a number are an index; around anything else a (verbatim) map key.
 */
export function parseFieldPath(path: string): FieldPathSegment[] {
  const out: FieldPathSegment[] = [];
  let i = 0;
  let cur = '';
  const flush = () => {
    if (cur) out.push(cur);
    cur = '';
  };
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      flush();
      i++;
    } else if (c === '[') {
      flush();
      const end = path.indexOf(']', i + 1);
      if (end < 0) {
        cur = path.slice(i);
        break;
      }
      const inner = path.slice(i + 1, end);
      out.push(/^\d+$/.test(inner) ? Number(inner) : inner);
      i = end + 1;
    } else {
      cur += c;
      i++;
    }
  }
  flush();
  return out;
}

const TIME_TAGS = new Set([
  'tag:yaml.org,2002:timestamp',
  'tag:yaml.org,2002:binary',
  'tag:yaml.org,2002:omap',
  'tag:yaml.org,2002:pairs',
  'tag:yaml.org,2002:set',
]);

/** YAML 1.1 tags as Kubernetes resolves them: no Date objects, no sexagesimal numbers, no sets. */
function kubeTags(tags: Tags): Tags {
  return tags.filter((t) => {
    if (typeof t === 'string') return !TIME_TAGS.has(t);
    return !TIME_TAGS.has(t.tag) && (t as { format?: string }).format !== 'TIME';
  });
}

const PARSE_OPTIONS = {
  version: '1.1' as const,
  customTags: kubeTags,
  uniqueKeys: true,
  merge: true,
  prettyErrors: false,
  strict: true,
};

function isText(input: string | Uint8Array): { text: string } | { offset: number } {
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      return { offset: 0 };
    }
  }
  const nul = text.indexOf('\u0000');
  if (nul >= 0) return { offset: nul };
  const bad = text.indexOf('\uFFFD');
  if (bad >= 0) return { offset: bad };
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { text };
}

/**
 * Reads every object in a YAML stream (documents separated by `---`) or a JSON object or array.
 * Empty documents are skipped and `List` kinds (`kind: List`, `PodList`, … with `items`) are
 * flattened. Throws ManifestError for anything that is not a readable manifest.
 */
export function parseManifests(input: string | Uint8Array, file?: string): ParsedManifest[] {
  const checked = isText(input);
  if (!('text' in checked)) {
    const line = typeof input === 'string' ? input.slice(0, checked.offset).split('\n').length : 1;
    throw new ManifestError(
      file,
      line,
      1,
      'not a text file: manifests must be UTF-8 YAML or JSON (found a NUL byte or invalid UTF-8)',
    );
  }
  const text = checked.text;
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { ...PARSE_OPTIONS, lineCounter });
  const pos = (offset: number): SourcePosition => {
    const p = lineCounter.linePos(offset);
    return { line: Math.max(1, p.line), col: Math.max(1, p.col) };
  };
  const fail = (offset: number, message: string): never => {
    const p = pos(offset);
    throw new ManifestError(file, p.line, p.col, message);
  };
  const out: ParsedManifest[] = [];
  if ('empty' in docs && docs.empty) {
    // An EmptyStream: nothing but comments or whitespace; its errors still count.
    for (const e of docs.errors ?? []) throwYamlError(e, file, pos, text);
    return out;
  }
  const trimmed = text.trimStart();
  const isJson = trimmed.startsWith('{') || trimmed.startsWith('[');
  for (const doc of docs) {
    const err = doc.errors[0];
    if (err) throwYamlError(err, file, pos, text);
    const root = doc.contents as YamlNode | null;
    if (root === null || (isScalar(root) && root.value === null)) continue;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      fail(root.range?.[0] ?? 0, `invalid YAML: ${(e as Error).message}`);
    }
    if (isSeq(root) && isJson) {
      root.items.forEach((item, i) => {
        addObject(item as YamlNode, (value as unknown[])[i], doc);
      });
      continue;
    }
    addObject(root, value, doc);
  }
  return out;

  function addObject(node: YamlNode, value: unknown, doc: Document.Parsed, inList = false): void {
    const start = node.range?.[0] ?? 0;
    if (value === null || value === undefined) return;
    if (!isPlainObject(value) || !isMap(resolve(node, doc))) {
      fail(
        start,
        inList
          ? 'every item of a List must be a mapping with apiVersion and kind'
          : `a manifest must be a mapping with apiVersion and kind, not ${describe(value)}`,
      );
    }
    const obj = value as Record<string, unknown>;
    for (const f of ['apiVersion', 'kind'] as const) {
      if (obj[f] === undefined || obj[f] === null || obj[f] === '')
        fail(
          start,
          `${f} is missing: every manifest needs apiVersion and kind (e.g. apiVersion: v1, kind: Pod)`,
        );
      if (typeof obj[f] !== 'string') {
        const p = positionIn(doc, node, [f]);
        const at = p ?? pos(start);
        throw new ManifestError(file, at.line, at.col, `${f} must be a string`);
      }
    }
    const kind = obj.kind as string;
    if (kind === 'List' || (kind.endsWith('List') && 'items' in obj)) {
      const itemsNode = lookup(doc, resolve(node, doc), 'items');
      const items = obj.items;
      if (items === undefined || items === null) return;
      if (!Array.isArray(items) || !itemsNode || !isSeq(itemsNode))
        fail(start, `items of a ${kind} must be a list of objects`);
      (items as unknown[]).forEach((item, i) => {
        addObject((itemsNode as { items: YamlNode[] }).items[i], item, doc, true);
      });
      return;
    }
    const index = out.length;
    out.push({
      object: obj as KubeObject,
      file,
      index,
      position: (fieldPath: string) => {
        const p = positionIn(doc, node, parseFieldPath(fieldPath));
        return p ?? pos(start);
      },
    });
  }

  function positionIn(
    doc: Document.Parsed,
    root: YamlNode,
    segments: FieldPathSegment[],
  ): SourcePosition | undefined {
    let node: YamlNode | undefined = root;
    let at = root.range?.[0] ?? 0;
    for (const seg of segments) {
      const cur = resolve(node, doc);
      if (isMap(cur)) {
        const pair = cur.items.find((p) => isPair(p) && keyString(p.key) === String(seg));
        if (!pair) break;
        const key = pair.key as YamlNode | null;
        if (key && key.range) at = key.range[0];
        else if (pair.value && (pair.value as YamlNode).range) at = (pair.value as YamlNode).range![0];
        node = (pair.value as YamlNode | null) ?? undefined;
      } else if (isSeq(cur) && typeof seg === 'number') {
        const item = cur.items[seg] as YamlNode | undefined;
        if (!item) break;
        if (item.range) at = item.range[0];
        node = item;
      } else break;
      if (!node) break;
    }
    return pos(at);
  }
}

function throwYamlError(
  e: YAMLError,
  file: string | undefined,
  pos: (offset: number) => SourcePosition,
  text: string,
): never {
  const p = pos(e.pos[0]);
  let message = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  if (e.code === 'DUPLICATE_KEY') {
    const key = /^["']?([^"':\n]*)/.exec(text.slice(e.pos[0]))?.[1]?.trim();
    message = `duplicate key${key ? ` "${key}"` : ''}: a key may appear only once in a mapping`;
  }
  throw new ManifestError(file, p.line, p.col, `invalid YAML: ${message}`);
}

function resolve(node: YamlNode | undefined, doc: Document.Parsed): YamlNode | undefined {
  let n: YamlNode | undefined = node;
  for (let i = 0; i < 10 && n && isAlias(n); i++) n = (n as Alias).resolve(doc) as YamlNode | undefined;
  return n;
}

function lookup(doc: Document.Parsed, map: YamlNode | undefined, key: string): YamlNode | undefined {
  if (!isMap(map)) return undefined;
  const pair = map.items.find((p) => isPair(p) && keyString(p.key) === key);
  return resolve((pair?.value as YamlNode | null) ?? undefined, doc);
}

function keyString(k: unknown): string | undefined {
  if (isScalar(k)) return String(k.value);
  if (typeof k === 'string' || typeof k === 'number') return String(k);
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `a ${typeof v}`;
}

/** `file:line:col: field: message`, the way compilers print errors. */
export function formatCause(m: ParsedManifest, cause: StatusCause): string {
  const p = m.position(cause.field ?? '');
  const where = p ? formatLocation(m.file, p.line, p.col) : (m.file ?? '');
  const what = cause.field ? `${cause.field}: ${cause.message}` : cause.message;
  return where ? `${where}: ${what}` : what;
}

/** Wraps plain objects (e.g. from the server) so they can be treated like parsed manifests. */
export function manifestOf(object: KubeObject, file?: string, index = 0): ParsedManifest {
  return { object, file, index, position: () => undefined };
}

/** Prints objects as kubectl does: block style, 2-space indent, lists not indented under their key. */
export function toYaml(obj: unknown): string {
  // The full YAML 1.1 schema here (not kubeTags) so that strings that a YAML 1.1 reader would take
  // for timestamps or sexagesimal numbers are quoted, as kubectl does.
  return stringify(obj, {
    version: '1.1',
    indent: 2,
    indentSeq: false,
    lineWidth: 0,
    minContentWidth: 0,
    aliasDuplicateObjects: false,
  });
}

/** Prints objects as `kubectl -o json` does (4-space indent, trailing newline). */
export function toJson(obj: unknown): string {
  return JSON.stringify(obj, null, 4) + '\n';
}
