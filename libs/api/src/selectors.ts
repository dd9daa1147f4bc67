/**
 * Label and field selectors with Kubernetes syntax and semantics:
 *   labels: `app=web,tier!=db,env in (prod,staging),release notin (canary),track,!legacy`
 *   fields: `metadata.name=web,spec.nodeName!=node-1`
 * `!=` and `notin` match objects that do not carry the label at all, as in Kubernetes.
 */
import { ApiError } from './errors';
import type { KubeObject } from './meta';
import { labelValueErrors, qualifiedNameErrors } from './names';

export type LabelOperator = '=' | '!=' | 'in' | 'notin' | 'exists' | '!';

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  /** One value for = and !=, one or more for in/notin, none for exists and !. */
  values: string[];
}

export interface LabelSelector {
  requirements: LabelRequirement[];
  /** True for a selector that matches nothing (a null selector in a spec, as Kubernetes). */
  matchesNothing?: boolean;
}

/** The spec form found in Deployments and ReplicaSets (`spec.selector`). */
export interface LabelSelectorSpec {
  matchLabels?: Record<string, string>;
  matchExpressions?: {
    key: string;
    operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    values?: string[];
  }[];
}

type Token =
  { t: 'id'; v: string; at: number } | { t: 'op'; v: '=' | '==' | '!=' | '!' | '(' | ')' | ','; at: number };

function badLabelSelector(s: string, why: string): ApiError {
  return new ApiError('BadRequest', `unable to parse requirement: invalid label selector "${s}": ${why}`);
}

function lex(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '=' && s[i + 1] === '=') {
      out.push({ t: 'op', v: '==', at: i });
      i += 2;
    } else if (c === '!' && s[i + 1] === '=') {
      out.push({ t: 'op', v: '!=', at: i });
      i += 2;
    } else if (c === '=' || c === '!' || c === '(' || c === ')' || c === ',') {
      out.push({ t: 'op', v: c, at: i });
      i++;
    } else {
      const start = i;
      while (i < s.length && !' \t\n\r=!(),'.includes(s[i])) i++;
      out.push({ t: 'id', v: s.slice(start, i), at: start });
    }
  }
  return out;
}

function checkKey(s: string, key: string): void {
  const errs = qualifiedNameErrors(key);
  if (errs.length) throw badLabelSelector(s, `key "${key}": ${errs.join('; ')}`);
}

function checkValue(s: string, value: string): void {
  const errs = labelValueErrors(value);
  if (errs.length) throw badLabelSelector(s, `value "${value}": ${errs.join('; ')}`);
}

/** Parses a label selector string; throws ApiError BadRequest naming what is wrong. */
export function parseLabelSelector(s: string): LabelSelector {
  const toks = lex(s);
  const reqs: LabelRequirement[] = [];
  let i = 0;
  const peek = () => toks[i];
  const expectValue = (): string => {
    const t = toks[i];
    // An empty value (`a=` or `a=,b`) is allowed: it matches the empty label value.
    if (!t || (t.t === 'op' && t.v === ',')) return '';
    if (t.t !== 'id') throw badLabelSelector(s, `expected a value at position ${t.at}, found "${t.v}"`);
    i++;
    checkValue(s, t.v);
    return t.v;
  };
  while (i < toks.length) {
    let t = toks[i];
    if (t.t === 'op' && t.v === '!') {
      i++;
      const k = toks[i];
      if (!k || k.t !== 'id') throw badLabelSelector(s, "expected a label key after '!'");
      checkKey(s, k.v);
      reqs.push({ key: k.v, operator: '!', values: [] });
      i++;
    } else if (t.t === 'id') {
      const key = t.v;
      checkKey(s, key);
      i++;
      const op = peek();
      if (!op || (op.t === 'op' && op.v === ',')) {
        reqs.push({ key, operator: 'exists', values: [] });
      } else if (op.t === 'op' && (op.v === '=' || op.v === '==' || op.v === '!=')) {
        i++;
        reqs.push({ key, operator: op.v === '!=' ? '!=' : '=', values: [expectValue()] });
      } else if (op.t === 'id' && (op.v === 'in' || op.v === 'notin')) {
        i++;
        const open = toks[i];
        if (!open || open.t !== 'op' || open.v !== '(')
          throw badLabelSelector(s, `expected '(' after '${op.v}', e.g. "${key} ${op.v} (a,b)"`);
        i++;
        const values: string[] = [];
        for (;;) {
          const v = toks[i];
          if (!v) throw badLabelSelector(s, "missing ')' to close the set of values");
          if (v.t === 'op' && v.v === ')') {
            i++;
            break;
          }
          if (v.t === 'op' && v.v === ',') {
            // `(a,,b)` or `(,a)`: an empty value.
            values.push('');
            i++;
            continue;
          }
          if (v.t !== 'id') throw badLabelSelector(s, `unexpected "${v.v}" in the set of values`);
          checkValue(s, v.v);
          values.push(v.v);
          i++;
          const sep = toks[i];
          if (sep && sep.t === 'op' && sep.v === ',') i++;
          else if (!sep || sep.t !== 'op' || sep.v !== ')')
            throw badLabelSelector(s, "values in a set must be separated by ',' and closed by ')'");
        }
        if (!values.length) throw badLabelSelector(s, `for '${op.v}' the set of values must not be empty`);
        reqs.push({ key, operator: op.v, values });
      } else {
        const what = op.t === 'id' ? op.v : op.v;
        throw badLabelSelector(
          s,
          `unexpected "${what}" after key "${key}": expected =, ==, !=, in, notin, ',' or the end`,
        );
      }
    } else {
      throw badLabelSelector(s, `unexpected "${t.v}" at position ${t.at}: expected a label key or '!key'`);
    }
    t = toks[i];
    if (t) {
      if (t.t === 'op' && t.v === ',') {
        i++;
        if (i >= toks.length) throw badLabelSelector(s, "a ',' must be followed by another requirement");
      } else
        throw badLabelSelector(
          s,
          `unexpected "${t.v}" at position ${t.at}: requirements are separated by ','`,
        );
    }
  }
  return { requirements: reqs };
}

/** True when every requirement holds for the labels. */
export function matchLabels(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  if (sel.matchesNothing) return false;
  const l = labels ?? {};
  return sel.requirements.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = has ? l[r.key] : undefined;
    switch (r.operator) {
      case '=':
      case 'in':
        return has && r.values.includes(v as string);
      case '!=':
      case 'notin':
        return !has || !r.values.includes(v as string);
      case 'exists':
        return has;
      case '!':
        return !has;
    }
  });
}

/**
 * Converts a spec selector (`matchLabels` + `matchExpressions`) into a LabelSelector. A null or
 * missing spec matches nothing; an empty one (`{}`) matches everything, as in Kubernetes.
 */
export function selectorFromLabelSelectorSpec(spec: LabelSelectorSpec | null | undefined): LabelSelector {
  if (spec === null || spec === undefined) return { requirements: [], matchesNothing: true };
  const reqs: LabelRequirement[] = [];
  for (const [key, value] of Object.entries(spec.matchLabels ?? {}))
    reqs.push({ key, operator: '=', values: [String(value)] });
  for (const e of spec.matchExpressions ?? []) {
    const values = [...(e.values ?? [])];
    switch (e.operator) {
      case 'In':
        reqs.push({ key: e.key, operator: 'in', values });
        break;
      case 'NotIn':
        reqs.push({ key: e.key, operator: 'notin', values });
        break;
      case 'Exists':
        reqs.push({ key: e.key, operator: 'exists', values: [] });
        break;
      case 'DoesNotExist':
        reqs.push({ key: e.key, operator: '!', values: [] });
        break;
      default:
        throw new ApiError(
          'BadRequest',
          `"${String((e as { operator: unknown }).operator)}" is not a valid label selector operator: ` +
            'must be In, NotIn, Exists or DoesNotExist',
        );
    }
  }
  return { requirements: reqs };
}

/** The canonical string form (`a=b,c in (d,e),!f`), sorted by key as Kubernetes prints it. */
export function labelSelectorToString(sel: LabelSelector): string {
  const reqs = [...sel.requirements].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return reqs
    .map((r) => {
      switch (r.operator) {
        case '=':
          return `${r.key}=${r.values[0] ?? ''}`;
        case '!=':
          return `${r.key}!=${r.values[0] ?? ''}`;
        case 'in':
        case 'notin':
          return `${r.key} ${r.operator} (${[...r.values].sort().join(',')})`;
        case 'exists':
          return r.key;
        case '!':
          return `!${r.key}`;
      }
    })
    .join(',');
}

// ---------------------------------------------------------------------------------------------
// Field selectors

export interface FieldRequirement {
  field: string;
  operator: '=' | '!=';
  value: string;
}

export interface FieldSelector {
  requirements: FieldRequirement[];
}

const COMMON_FIELDS = ['metadata.name', 'metadata.namespace'];
const FIELDS_BY_KIND: Record<string, string[]> = {
  Pod: [
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'status.phase',
    'status.podIP',
    'status.nominatedNodeName',
  ],
  Event: [
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ],
  Namespace: ['status.phase'],
  Node: ['spec.unschedulable'],
  Secret: ['type'],
  ReplicaSet: ['status.replicas'],
};

/** The field labels a kind supports (all kinds' when kind is not given). */
export function supportedFieldLabels(kind?: string): string[] {
  if (kind) return [...COMMON_FIELDS, ...(FIELDS_BY_KIND[kind] ?? [])];
  return [...new Set([...COMMON_FIELDS, ...Object.values(FIELDS_BY_KIND).flat()])];
}

/** Splits on an unescaped separator; `\,` `\=` `\!` `\\` escape. */
function splitEscaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length) {
      cur += c + s[i + 1];
      i++;
    } else if (c === sep) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

/**
 * Parses `field=value,field!=value` (also `==`). With a kind, only that kind's field labels are
 * accepted; an unknown one is ApiError BadRequest `field label not supported: x`.
 */
export function parseFieldSelector(s: string, kind?: string): FieldSelector {
  const allowed = supportedFieldLabels(kind);
  const reqs: FieldRequirement[] = [];
  if (!s.trim()) return { requirements: [] };
  for (const part of splitEscaped(s, ',')) {
    const p = part.trim();
    if (!p) throw new ApiError('BadRequest', `invalid field selector "${s}": empty requirement`);
    const m = /^((?:[^\\=!]|\\.)*)(!=|==|=)(.*)$/.exec(p);
    if (!m)
      throw new ApiError(
        'BadRequest',
        `invalid field selector "${s}": "${p}" must be field=value, field==value or field!=value`,
      );
    const field = unescape(m[1].trim());
    const operator: '=' | '!=' = m[2] === '!=' ? '!=' : '=';
    const value = unescape(m[3].trim());
    if (!allowed.includes(field))
      throw new ApiError(
        'BadRequest',
        `field label not supported: ${field}` +
          (kind ? ` (${kind} supports ${allowed.join(', ')})` : ` (supported: ${allowed.join(', ')})`),
      );
    reqs.push({ field, operator, value });
  }
  return { requirements: reqs };
}

/** Values Kubernetes gives field labels whose field is unset (Go zero values). */
const FIELD_ZERO: Record<string, string> = { 'spec.unschedulable': 'false', 'status.replicas': '0' };

/** The value of a field label on an object: missing fields are '' (so `spec.nodeName=` finds unbound pods). */
export function fieldValue(obj: KubeObject, field: string): string {
  let cur: unknown = obj;
  for (const seg of field.split('.')) {
    if (cur === null || typeof cur !== 'object') {
      cur = undefined;
      break;
    }
    cur = (cur as Record<string, unknown>)[seg];
  }
  if (cur === undefined || cur === null) return FIELD_ZERO[field] ?? '';
  if (typeof cur === 'object') {
    // Event `source` is an object; Kubernetes exposes source.component.
    const comp = (cur as Record<string, unknown>).component;
    return typeof comp === 'string' ? comp : '';
  }
  return String(cur);
}

export function matchFields(sel: FieldSelector, obj: KubeObject): boolean {
  return sel.requirements.every((r) => {
    const v = fieldValue(obj, r.field);
    return r.operator === '=' ? v === r.value : v !== r.value;
  });
}

/** `metadata.name=web,spec.nodeName!=n1` */
export function fieldSelectorToString(sel: FieldSelector): string {
  const esc = (s: string) => s.replace(/[\\,=!]/g, (c) => `\\${c}`);
  return sel.requirements.map((r) => `${r.field}${r.operator}${esc(r.value)}`).join(',');
}
