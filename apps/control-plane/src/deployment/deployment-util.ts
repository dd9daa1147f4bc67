/**
 * Deployment conventions shared by the controller's logic (the Kubernetes ones, so kubectl-style
 * tools read them): annotation and label names, the pod-template hash, template equality,
 * maxSurge/maxUnavailable resolution, revisions and conditions.
 */
import { deepCopy, deepEqual, type KubeObject } from '@berth/api';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
/** Longest revision-history annotation kept (older revisions are dropped first). */
export const MAX_REVISION_HISTORY_CHARS = 2000;

/** Deployment annotations never copied onto its ReplicaSets (revision bookkeeping, apply state). */
const NOT_COPIED_TO_RS = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  'deprecated.deployment.rollback.to',
]);

// Condition types and reasons (Kubernetes' names).
export const AVAILABLE = 'Available';
export const PROGRESSING = 'Progressing';
export const REPLICA_FAILURE = 'ReplicaFailure';
export const MIN_REPLICAS_AVAILABLE = 'MinimumReplicasAvailable';
export const MIN_REPLICAS_UNAVAILABLE = 'MinimumReplicasUnavailable';
export const NEW_RS_CREATED = 'NewReplicaSetCreated';
export const FOUND_NEW_RS = 'FoundNewReplicaSet';
export const RS_UPDATED = 'ReplicaSetUpdated';
export const NEW_RS_AVAILABLE = 'NewReplicaSetAvailable';
export const TIMED_OUT = 'ProgressDeadlineExceeded';
export const PAUSED = 'DeploymentPaused';
export const RESUMED = 'DeploymentResumed';
export const FAILED_RS_CREATE = 'ReplicaSetCreateError';

export interface DeploymentCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastUpdateTime: string;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface DeploymentStatus {
  observedGeneration: number;
  replicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  unavailableReplicas: number;
  conditions: DeploymentCondition[];
  collisionCount?: number;
}

/** RFC 3339 to the second, as Kubernetes writes condition times. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** JSON with object keys sorted at every level: the same value always serialises the same way. */
export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => stableStringify(x)).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnv1a32(bytes: Uint8Array, h = FNV_OFFSET): number {
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, FNV_PRIME) >>> 0;
  }
  return h >>> 0;
}

/** Kubernetes' "safe" alphabet (no vowels, no 0/1/3: no words, nothing mistaken for another). */
const SAFE_ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * The pod-template-hash of a template: FNV-1a (32 bit) of its canonical JSON, then of
 * collisionCount (4 bytes little-endian) when set, written in decimal and each digit mapped to the
 * safe alphabet (as Kubernetes encodes it: lowercase alphanumerics, at most 10 characters).
 */
export function computeHash(template: unknown, collisionCount?: number): string {
  let h = fnv1a32(Buffer.from(stableStringify(template), 'utf8'));
  if (collisionCount !== undefined && collisionCount !== null) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(collisionCount >>> 0);
    h = fnv1a32(b, h);
  }
  return [...String(h)].map((c) => SAFE_ALPHANUMS[c.charCodeAt(0) % SAFE_ALPHANUMS.length]).join('');
}

/** A copy of a pod template without the pod-template-hash label. */
export function templateWithoutHash(template: unknown): unknown {
  const t = deepCopy((template ?? {}) as Record<string, any>);
  const labels = t.metadata?.labels as Record<string, string> | undefined;
  if (labels) {
    delete labels[POD_TEMPLATE_HASH_LABEL];
    if (!Object.keys(labels).length) delete t.metadata.labels;
  }
  return t;
}

type Json = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A copy without null members and empty lists (at every level): both mean "not set". */
function withoutUnset(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutUnset);
  if (!isPlainObject(v)) return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === null || x === undefined || (Array.isArray(x) && x.length === 0)) continue;
    out[k] = withoutUnset(x);
  }
  return out;
}

const isEmptyMap = (v: unknown): boolean => isPlainObject(v) && Object.keys(v).length === 0;

/**
 * A pod template reduced to what it means, for comparisons: Kubernetes compares templates as Go
 * structs, where a null, an empty list, an empty map and an absent field are the same, and where
 * a container's `resources` and the template's `metadata.creationTimestamp` (value structs) are
 * always printed, as `{}` and `null`. kubectl writes templates back in that form (`rollout undo`
 * sends the ReplicaSet's template so), and it must still equal the ReplicaSet it came from.
 * Empty objects in general are kept: `emptyDir: {}` or `securityContext: {}` are not "unset".
 */
export function semanticTemplate(template: unknown): unknown {
  const t = withoutUnset(templateWithoutHash(template)) as Json;
  const meta = t.metadata;
  if (isPlainObject(meta)) {
    for (const k of ['labels', 'annotations']) if (isEmptyMap(meta[k])) delete meta[k];
    if (isEmptyMap(meta)) delete t.metadata;
  }
  const spec = t.spec;
  if (isPlainObject(spec))
    for (const list of ['containers', 'initContainers']) {
      const cs = spec[list];
      if (!Array.isArray(cs)) continue;
      for (const c of cs) {
        if (!isPlainObject(c) || !isPlainObject(c.resources)) continue;
        const r = c.resources;
        for (const k of ['limits', 'requests']) if (isEmptyMap(r[k])) delete r[k];
        if (isEmptyMap(r)) delete c.resources;
      }
    }
  return t;
}

/**
 * Whether two pod templates are equal apart from the pod-template-hash label, with Kubernetes'
 * semantics (see semanticTemplate): a template kubectl wrote back from a ReplicaSet equals it.
 */
export function equalIgnoreHash(a: unknown, b: unknown): boolean {
  return deepEqual(semanticTemplate(a) as never, semanticTemplate(b) as never);
}

/**
 * An IntOrString of a rolling update (`maxSurge: 1`, `maxUnavailable: "25%"`) as a pod count for
 * `total` replicas: percentages round up (maxSurge) or down (maxUnavailable).
 */
export function resolveIntOrPercent(
  v: number | string | undefined,
  total: number,
  roundUp: boolean,
  field: string,
): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0)
      throw new Error(`${field}: must be a whole number ≥ 0 or a percentage, not ${v}`);
    return v;
  }
  const m = /^(\d+)%$/.exec(v);
  if (m) {
    const x = (Number(m[1]) * total) / 100;
    return roundUp ? Math.ceil(x) : Math.floor(x);
  }
  if (/^\d+$/.test(v)) return Number(v);
  throw new Error(
    `${field}: must be a whole number ≥ 0 or a percentage like "25%", not ${JSON.stringify(v)}`,
  );
}

/** What the controller reads of a Deployment's spec, with Kubernetes' defaults filled in. */
export interface DeploymentParams {
  replicas: number;
  rolling: boolean;
  maxSurge: number;
  /** Already capped at replicas; 0 for Recreate or 0 replicas. */
  maxUnavailable: number;
  minReadySeconds: number;
  revisionHistoryLimit: number;
  /** Undefined when no deadline applies. */
  progressDeadlineSeconds?: number;
  paused: boolean;
}

const NO_DEADLINE = 2147483647;

export function deploymentParams(d: KubeObject): DeploymentParams {
  const spec = d.spec ?? {};
  const replicas: number = spec.replicas ?? 1;
  const rolling = (spec.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
  let maxSurge = 0;
  let maxUnavailable = 0;
  if (rolling) {
    const ru = spec.strategy?.rollingUpdate ?? {};
    maxSurge = resolveIntOrPercent(
      ru.maxSurge ?? '25%',
      replicas,
      true,
      'spec.strategy.rollingUpdate.maxSurge',
    );
    maxUnavailable = resolveIntOrPercent(
      ru.maxUnavailable ?? '25%',
      replicas,
      false,
      'spec.strategy.rollingUpdate.maxUnavailable',
    );
    // Both resolving to 0 (rounding) would never progress: allow one unavailable pod.
    if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
    maxUnavailable = replicas === 0 ? 0 : Math.min(maxUnavailable, replicas);
  }
  const pds: number | undefined = spec.progressDeadlineSeconds ?? 600;
  return {
    replicas,
    rolling,
    maxSurge,
    maxUnavailable,
    minReadySeconds: spec.minReadySeconds ?? 0,
    revisionHistoryLimit: spec.revisionHistoryLimit ?? 10,
    progressDeadlineSeconds: pds === NO_DEADLINE ? undefined : pds,
    paused: spec.paused === true,
  };
}

/** The revision an object records (0 when it has none or a bad one). */
export function revisionOf(o: KubeObject | undefined): number {
  const v = o?.metadata.annotations?.[REVISION_ANNOTATION];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : 0;
}

/** Copies the Deployment's annotations onto the ReplicaSet (except bookkeeping); true when any changed. */
export function copyDeploymentAnnotations(d: KubeObject, rs: KubeObject): boolean {
  const ann = (rs.metadata.annotations ??= {});
  let changed = false;
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
    if (NOT_COPIED_TO_RS.has(k) || ann[k] === v) continue;
    ann[k] = v;
    changed = true;
  }
  return changed;
}

/** Sets desired-replicas and max-replicas; true when either changed. */
export function setReplicasAnnotations(rs: KubeObject, desired: number, max: number): boolean {
  const ann = (rs.metadata.annotations ??= {});
  let changed = false;
  for (const [k, v] of [
    [DESIRED_REPLICAS_ANNOTATION, String(desired)],
    [MAX_REPLICAS_ANNOTATION, String(max)],
  ] as const) {
    if (ann[k] !== v) {
      ann[k] = v;
      changed = true;
    }
  }
  return changed;
}

export function replicasAnnotationsNeedUpdate(rs: KubeObject, desired: number, max: number): boolean {
  const ann = rs.metadata.annotations ?? {};
  return ann[DESIRED_REPLICAS_ANNOTATION] !== String(desired) || ann[MAX_REPLICAS_ANNOTATION] !== String(max);
}

/** The desired-replicas annotation as a number, undefined when absent or bad. */
export function desiredReplicasAnnotation(rs: KubeObject): number | undefined {
  const v = rs.metadata.annotations?.[DESIRED_REPLICAS_ANNOTATION];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

export function maxReplicasAnnotation(rs: KubeObject): number | undefined {
  const v = rs.metadata.annotations?.[MAX_REPLICAS_ANNOTATION];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/**
 * Gives the ReplicaSet `newRevision` (and the Deployment's annotations). A ReplicaSet that had an
 * older revision (the target of a rollback) keeps it in the revision-history annotation. A
 * ReplicaSet about to be created also gets desired/max-replicas. True when anything changed.
 */
export function setNewReplicaSetAnnotations(
  d: KubeObject,
  rs: KubeObject,
  newRevision: number,
  exists: boolean,
  desired: number,
  max: number,
): boolean {
  let changed = copyDeploymentAnnotations(d, rs);
  const ann = (rs.metadata.annotations ??= {});
  const had = ann[REVISION_ANNOTATION];
  const old = had !== undefined && /^\d+$/.test(had) ? Number(had) : 0;
  if (old < newRevision) {
    ann[REVISION_ANNOTATION] = String(newRevision);
    changed = true;
    if (had !== undefined) {
      const history = (ann[REVISION_HISTORY_ANNOTATION] ?? '').split(',').filter(Boolean);
      history.push(had);
      while (history.length > 1 && history.join(',').length > MAX_REVISION_HISTORY_CHARS) history.shift();
      ann[REVISION_HISTORY_ANNOTATION] = history.join(',');
    }
  }
  if (!exists && setReplicasAnnotations(rs, desired, max)) changed = true;
  return changed;
}

export function conditionOf(status: { conditions?: DeploymentCondition[] } | undefined, type: string) {
  return status?.conditions?.find((c) => c.type === type);
}

export function newCondition(
  type: string,
  status: DeploymentCondition['status'],
  reason: string,
  message: string,
  now: Date,
): DeploymentCondition {
  const t = rfc3339(now);
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

/**
 * Sets a condition as Kubernetes does: one with the same status and reason is left as it is; one
 * whose status did not change keeps its lastTransitionTime. New ones go last.
 */
export function setCondition(status: { conditions: DeploymentCondition[] }, c: DeploymentCondition): void {
  const cur = status.conditions.find((x) => x.type === c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return;
  const next = { ...c };
  if (cur && cur.status === c.status) next.lastTransitionTime = cur.lastTransitionTime;
  status.conditions = [...status.conditions.filter((x) => x.type !== c.type), next];
}

export function removeCondition(status: { conditions: DeploymentCondition[] }, type: string): void {
  status.conditions = status.conditions.filter((x) => x.type !== type);
}

/** The uid of an object's controller (its ownerReference with controller: true). */
export function controllerRef(o: KubeObject) {
  return (o.metadata.ownerReferences ?? []).find((r) => r.controller === true);
}
