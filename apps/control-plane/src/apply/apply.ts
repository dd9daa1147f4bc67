import { ApiError, deepEqual, type KubeObject } from '@berth/api';
import {
  appliedSet,
  diffObjects,
  difference,
  intersection,
  isEmpty,
  isObj,
  mergeConfig,
  prune,
  union,
  withoutSubtrees,
  type FieldNode,
} from './field-set';
import {
  conflictError,
  conflictsOf,
  decodeManagedFields,
  encodeManagedFields,
  sameIdentity,
  type Conflict,
  type Managed,
} from './managed-fields';

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';
/** kubectl's own field manager for `apply --server-side`: the one the last-applied annotation follows. */
const KUBECTL = 'kubectl';

/** What an apply request should do to the store. */
export type ApplyPlan =
  | { action: 'create'; object: KubeObject }
  | { action: 'update'; object: KubeObject; migrated: boolean }
  | { action: 'unchanged'; object: KubeObject };

export interface ApplyRequest {
  /** The applied configuration (identity checked against the URL, not defaulted). */
  config: KubeObject;
  live: KubeObject | undefined;
  manager: string;
  force: boolean;
  kind: { kind: string; apiVersion: string; hasStatus: boolean };
  /**
   * Per-manager last-applied configurations kept by Berth before managedFields existed: a manager
   * with one and no Apply entry gets an entry owning that configuration's fields.
   */
  legacy?: { manager: string; config: KubeObject }[];
  /** Defaults and validation (422), as for any write. */
  prepare: (o: KubeObject) => KubeObject;
  now: string;
}

/**
 * Server-side apply (pure), with Kubernetes' field ownership:
 * - the configuration's fields (leaves and list items) become the manager's Apply set;
 * - it is merged into live (maps by field, associative lists by key, other lists replaced);
 * - fields the manager applied before and no longer does are removed unless another manager owns them;
 * - a field whose value would change and that another manager owns is a conflict (409 listing
 *   each field and manager) unless `force`, which moves the ownership;
 * - fields the result no longer has leave every manager; defaults and validation follow.
 * For manager `kubectl` an existing last-applied annotation is kept in step with the applied
 * configuration, and conflicts over fields that annotation holds are taken over without force
 * (the client-side to server-side apply upgrade), as the Kubernetes API server does.
 * The result is pinned to live's resourceVersion (compare-and-swap); nothing to write when
 * neither the object nor its managedFields change.
 */
export function planApply(req: ApplyRequest): ApplyPlan {
  const { kind, live, manager } = req;
  const name = String(req.config.metadata?.name ?? '');
  const config = withoutNulls(structuredClone(req.config)) as KubeObject;
  const given = config.metadata?.managedFields;
  if (given !== undefined && !(Array.isArray(given) && given.length === 0))
    throw new ApiError('BadRequest', 'metadata.managedFields must be nil in an applied configuration');
  delete config.metadata.managedFields;
  if (kind.hasStatus) delete config.status;
  const applied = appliedSet(config as unknown as Record<string, unknown>, kind.kind, kind.hasStatus);
  const entry = (set: FieldNode): Managed => ({
    manager,
    operation: 'Apply',
    apiVersion: kind.apiVersion,
    time: req.now,
    set,
  });

  if (!live) {
    const object = req.prepare(structuredClone(config));
    setManagedFields(object, [entry(applied)]);
    return { action: 'create', object };
  }

  let managed = decodeManagedFields(live.metadata.managedFields, kind.kind, name);
  let migrated = false;
  for (const l of req.legacy ?? []) {
    if (managed.some((m) => sameIdentity(m, l.manager, 'Apply'))) continue;
    let set: FieldNode;
    try {
      set = appliedSet(l.config as unknown as Record<string, unknown>, kind.kind, kind.hasStatus);
    } catch {
      continue;
    }
    managed.push({ manager: l.manager, operation: 'Apply', apiVersion: kind.apiVersion, set });
    migrated = true;
  }
  const previous = managed.find((m) => sameIdentity(m, manager, 'Apply'));
  const others = managed.filter((m) => m !== previous);

  const base = structuredClone(live);
  delete base.metadata.managedFields;
  const merged = mergeConfig(base, config) as KubeObject;
  if (previous) {
    const ownedAfter = others.reduce((acc, m) => union(acc, m.set), applied);
    prune(merged as unknown as Record<string, unknown>, difference(previous.set, ownedAfter), ownedAfter);
  }
  const result = req.prepare(merged);
  const d = diffObjects(
    live as unknown as Record<string, unknown>,
    result as unknown as Record<string, unknown>,
    'main',
    kind.hasStatus,
  );

  const conflicts: Conflict[] = [];
  for (const m of others) conflicts.push(...conflictsOf(m, intersection(m.set, d.changed)));
  if (
    conflicts.length &&
    !req.force &&
    !(manager === KUBECTL && allowedByLastApplied(live, conflicts, kind))
  ) {
    throw conflictError(conflicts);
  }
  // Forced (or without conflicts): what changed is this manager's now; what is gone is nobody's.
  managed = others.map((m) => ({ ...m, set: withoutSubtrees(difference(m.set, d.changed), d.removed) }));
  const changed = !isEmpty(d.changed) || !isEmpty(d.removed);
  const mine = entry(applied);
  if (previous && !changed && sameSet(previous.set, applied)) mine.time = previous.time;
  managed.push(mine);

  if (manager === KUBECTL) keepLastAppliedInStep(result, config);
  setManagedFields(result, managed);
  result.metadata.resourceVersion = live.metadata.resourceVersion;
  if (!migrated && deepEqual(withoutStatus(result), withoutStatus(live)))
    return { action: 'unchanged', object: live };
  return { action: 'update', object: result, migrated };
}

function setManagedFields(o: KubeObject, managed: Managed[]): void {
  const enc = encodeManagedFields(managed);
  if (enc) o.metadata.managedFields = enc;
  else delete o.metadata.managedFields;
}

function sameSet(a: FieldNode, b: FieldNode): boolean {
  return isEmpty(difference(a, b)) && isEmpty(difference(b, a));
}

/**
 * Kubernetes lets kubectl's server-side apply take over, without --force-conflicts, the fields
 * that the object's last-applied annotation (client-side apply's record) holds.
 */
function allowedByLastApplied(live: KubeObject, conflicts: Conflict[], kind: ApplyRequest['kind']): boolean {
  const raw = live.metadata.annotations?.[LAST_APPLIED_ANNOTATION];
  if (typeof raw !== 'string' || !raw) return false;
  let allowed: FieldNode;
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (!isObj(parsed)) return false;
    allowed = appliedSet(withoutNulls(parsed) as Record<string, unknown>, kind.kind, kind.hasStatus);
  } catch {
    return false;
  }
  return conflicts.every((c) => {
    let n: FieldNode | undefined = allowed;
    for (const el of c.path) n = n?.children?.get(el);
    return !!n?.member;
  });
}

/** The annotation, where the object has it, becomes the applied configuration (without the annotation). */
function keepLastAppliedInStep(result: KubeObject, config: KubeObject): void {
  const annotations = result.metadata.annotations;
  if (!annotations || annotations[LAST_APPLIED_ANNOTATION] === undefined) return;
  const copy = structuredClone(config);
  if (copy.metadata.annotations) delete copy.metadata.annotations[LAST_APPLIED_ANNOTATION];
  annotations[LAST_APPLIED_ANNOTATION] = JSON.stringify(sortKeys(copy));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isObj(v)) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]);
  return out;
}

/** An applied null means "not set by this configuration". */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (!isObj(v)) return v;
  for (const k of Object.keys(v)) {
    if (v[k] === null) delete v[k];
    else v[k] = withoutNulls(v[k]);
  }
  return v;
}

function withoutStatus(o: KubeObject): KubeObject {
  const c = { ...o };
  delete c.status;
  return c;
}
