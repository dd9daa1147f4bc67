import { deepEqual, threeWayMerge, type KubeObject } from '@berth/api';

/** What an apply request should do to the store. */
export type ApplyPlan =
  | { action: 'create'; object: KubeObject }
  | { action: 'update'; object: KubeObject }
  | { action: 'unchanged'; object: KubeObject };

/**
 * Decides an apply (pure): no live object → create `desired`; otherwise three-way merge the
 * manager's last-applied configuration, the desired file and the live object (fields the file
 * stopped setting are removed, fields others set, e.g. replicas by scale, stay), then `prepare`
 * (defaults + validation). The result is pinned to live's resourceVersion for a compare-and-swap.
 * Nothing to write when the merged object equals live and the file equals the last applied one.
 */
export function planApply(
  desired: KubeObject,
  lastApplied: KubeObject | undefined,
  live: KubeObject | undefined,
  prepare: (o: KubeObject) => KubeObject,
): ApplyPlan {
  if (!live) return { action: 'create', object: prepare(structuredClone(desired)) };
  const merged = prepare(threeWayMerge(lastApplied, desired, live) as KubeObject);
  merged.metadata = { ...merged.metadata, resourceVersion: live.metadata.resourceVersion };
  if (
    lastApplied &&
    deepEqual(lastApplied, desired) &&
    deepEqual(withoutStatus(merged), withoutStatus(live))
  ) {
    return { action: 'unchanged', object: live };
  }
  return { action: 'update', object: merged };
}

function withoutStatus(o: KubeObject): KubeObject {
  const c = { ...o };
  delete c.status;
  return c;
}
