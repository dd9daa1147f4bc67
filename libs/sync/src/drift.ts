import { MERGE_KEYS } from '@berth/api';

/** One field whose live value is not what the file says. */
export interface Drift {
  /** `spec.replicas`, `spec.template.spec.containers[name=web].image`, `metadata.labels[app]` */
  path: string;
  /** What the file sets (undefined never: the file sets every field compared). */
  want: unknown;
  /** What the live object has (undefined when the field is missing). */
  have: unknown;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Two scalars are the same when equal, or when one is the other's string form (`8080` / "8080"). */
function sameScalar(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((typeof a === 'number' && typeof b === 'string') || (typeof a === 'string' && typeof b === 'number'))
    return String(a) === String(b);
  return false;
}

function mergeKey(field: string, want: unknown[], have: unknown[]): string | undefined {
  const candidates = MERGE_KEYS[field];
  if (!candidates) return undefined;
  const items = [...want, ...have];
  if (!items.every(isObj)) return undefined;
  return candidates.find((k) => want.every((i) => ['string', 'number'].includes(typeof (i as Obj)[k])));
}

function join(base: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return base ? `${base}.${key}` : key;
  return `${base}[${key}]`;
}

function walk(want: unknown, have: unknown, at: string, field: string, out: Drift[]): void {
  if (want === null || want === undefined) return; // null in a manifest means "not set"
  if (isObj(want)) {
    if (!isObj(have)) {
      out.push({ path: at, want, have });
      return;
    }
    for (const [k, v] of Object.entries(want)) walk(v, have[k], join(at, k), k, out);
    return;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(have)) {
      out.push({ path: at, want, have });
      return;
    }
    const key = mergeKey(field, want, have);
    if (key) {
      // Merged lists: each item the file names must be there as the file says; items others
      // added (a sidecar, an env var) are not the file's business.
      const byKey = new Map(have.map((i) => [String((i as Obj)[key]), i]));
      for (const item of want) {
        const k = String((item as Obj)[key]);
        walk(item, byKey.get(k), `${at}[${key}=${k}]`, '', out);
      }
      return;
    }
    // Atomic lists (args, command, tolerations, ...): the same length, item by item.
    if (want.length !== have.length) {
      out.push({ path: at, want, have });
      return;
    }
    want.forEach((w, i) => walk(w, have[i], `${at}[${i}]`, '', out));
    return;
  }
  if (!sameScalar(want, have)) out.push({ path: at, want, have });
}

/**
 * The fields of `live` that differ from what `desired` (the file's object) sets. Only fields the
 * file sets count: defaults the server filled in, fields other managers own (replicas set by an
 * autoscaler that the file omits, an injected sidecar) and status never do; metadata the server
 * owns (uid, resourceVersion, ...) is never in a file. Lists with a Kubernetes merge key
 * (containers by name, ports by containerPort, ...) are compared item by item by that key.
 */
export function driftOf(desired: object, live: object | undefined): Drift[] {
  const out: Drift[] = [];
  if (!live) return [{ path: '', want: desired, have: undefined }];
  const { status: _status, ...want } = desired as Obj;
  walk(want, live, '', '', out);
  return out;
}

/** `spec.replicas: 5 → 3`, short enough for an Event message. */
export function describeDrift(d: Drift[], max = 3): string {
  const show = (v: unknown) => {
    if (v === undefined) return '(missing)';
    const s = JSON.stringify(v);
    return s.length > 40 ? s.slice(0, 37) + '...' : s;
  };
  const parts = d.slice(0, max).map((x) => `${x.path}: ${show(x.have)} → ${show(x.want)}`);
  if (d.length > max) parts.push(`and ${d.length - max} more`);
  return parts.join(', ');
}
