/**
 * The garbage collector's decisions as pure functions over ownerReferences (Kubernetes' rules):
 * a dependent all of whose owners are gone is deleted; references to owners that are gone are
 * dropped while others remain; an owner deleted with the `orphan` finalizer first has its
 * dependents released; one deleted with `foregroundDeletion` waits until its dependents are gone.
 */
import type { KubeObject, OwnerReference } from '@berth/api';

export const FINALIZER_ORPHAN = 'orphan';
export const FINALIZER_FOREGROUND = 'foregroundDeletion';

/** An ownerReference as stored (libs/api's OwnerReference). */
export type OwnerRef = OwnerReference;

export type OwnerState = 'present' | 'absent' | 'unknown';

export type DependentAction = { type: 'none' } | { type: 'delete' } | { type: 'dropRefs'; uids: string[] };

export function ownerRefs(o: KubeObject): OwnerRef[] {
  return (o.metadata.ownerReferences ?? []) as OwnerRef[];
}

/** What to do with an object given the state of each of its owners (by uid). */
export function decideDependent(o: KubeObject, owners: Map<string, OwnerState>): DependentAction {
  const refs = ownerRefs(o);
  if (!refs.length || o.metadata.deletionTimestamp) return { type: 'none' };
  const absent = refs.filter((r) => owners.get(r.uid) === 'absent').map((r) => r.uid);
  if (!absent.length) return { type: 'none' };
  if (absent.length === refs.length) return { type: 'delete' };
  return { type: 'dropRefs', uids: absent };
}

export type OwnerAction =
  | { type: 'none' }
  | { type: 'orphanDependents'; dependents: KubeObject[] }
  | { type: 'deleteDependents'; dependents: KubeObject[] }
  | { type: 'removeFinalizer'; finalizer: string };

/** What to do for an object being deleted with one of the collector's finalizers. */
export function decideOwner(o: KubeObject, dependents: KubeObject[]): OwnerAction {
  if (!o.metadata.deletionTimestamp) return { type: 'none' };
  const fin = o.metadata.finalizers ?? [];
  const mine = dependents.filter((d) => ownerRefs(d).some((r) => r.uid === o.metadata.uid));
  if (fin.includes(FINALIZER_ORPHAN)) {
    return mine.length
      ? { type: 'orphanDependents', dependents: mine }
      : { type: 'removeFinalizer', finalizer: FINALIZER_ORPHAN };
  }
  if (fin.includes(FINALIZER_FOREGROUND)) {
    const waiting = mine.filter((d) => !d.metadata.deletionTimestamp);
    if (waiting.length) return { type: 'deleteDependents', dependents: waiting };
    // Dependents being deleted in the foreground themselves still block their owner.
    return mine.length ? { type: 'none' } : { type: 'removeFinalizer', finalizer: FINALIZER_FOREGROUND };
  }
  return { type: 'none' };
}
