import type { KindInfo, KubeObject, WatchEvent } from '@berth/api';

/**
 * The contract between the control plane and the Redis store. Objects go in and out as plain
 * Kubernetes-shaped JSON; the store owns metadata.uid, resourceVersion, generation,
 * creationTimestamp and deletionTimestamp. All failures are ApiError (NotFound, AlreadyExists,
 * Conflict, Gone, ServiceUnavailable when Redis is unreachable).
 */
export interface ListOptions {
  /** Omit for all namespaces (or for cluster-scoped kinds). */
  namespace?: string;
  /** Kubernetes label selector syntax: a=b,c!=d,e in (f,g),!h,i */
  labelSelector?: string;
  /** Field selector: metadata.name=, metadata.namespace=, spec.nodeName= (=, ==, !=). */
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

export interface ListResult {
  items: KubeObject[];
  /** The store revision the list was read at; a watch from it misses nothing. */
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Start after this revision; '' or '0' or undefined means "from now" with ADDED for existing objects (as Kubernetes). */
  resourceVersion?: string;
  /** Emit a BOOKMARK event with the current revision at this interval (ms). */
  bookmarkIntervalMs?: number;
}

export interface AppliedConfig {
  /** The field manager (e.g. 'berthctl', 'berth-sync'). */
  manager: string;
  /** The configuration that manager last applied: the base of the next three-way merge. */
  config: KubeObject;
}

/**
 * Fencing: the write happens only if the Lease object `name` in `namespace` names `holder` as its
 * spec.holderIdentity at the moment of the write (checked inside the same atomic step). A leader
 * that lost its lease can then no longer write, even if it has not noticed yet. Otherwise the
 * write fails with 409 Conflict, reason `Fenced` in details.causes.
 */
export interface Fence {
  namespace: string;
  name: string;
  holder: string;
}

/** Kubernetes' DeleteOptions.propagationPolicy: what happens to the objects this one owns. */
export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

export interface CreateOptions {
  dryRun?: boolean;
  fence?: Fence;
  /** Stored atomically with the object, outside it (no size limit, not shown by get). */
  applied?: AppliedConfig;
}

export interface UpdateOptions {
  /**
   * 'status': only .status changes; otherwise .status is kept from the stored object.
   * 'binding' (pods): only spec.nodeName is taken from the object, and the PodScheduled condition
   * becomes True, in one write; Conflict if the pod is bound to another node or being deleted.
   */
  subresource?: 'status' | 'binding';
  dryRun?: boolean;
  fence?: Fence;
  /** Stored atomically with the object, outside it (no size limit, not shown by get). */
  applied?: AppliedConfig;
  /** Removes every applied configuration kept for the object, in the same write (not with `applied`). */
  dropApplied?: boolean;
  /**
   * Field ownership: called with the stored object and the one about to be stored (after the
   * subresource rules), before the no-op check; its result becomes next's metadata.managedFields
   * (undefined removes them). Called again on every compare-and-swap retry.
   */
  managedFields?: (cur: KubeObject, next: KubeObject) => unknown[] | undefined;
}

export interface DeleteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
  fence?: Fence;
  /**
   * Foreground adds the finalizer `foregroundDeletion`, Orphan adds `orphan` (with
   * deletionTimestamp, in the same write); the garbage collector acts on them. Background (the
   * default) removes the object at once (unless it has other finalizers) and the collector
   * deletes its dependents afterwards.
   */
  propagationPolicy?: PropagationPolicy;
}

export interface ResourceStore {
  /** Assigns uid, resourceVersion, generation=1, creationTimestamp (and a name from generateName). */
  create(kind: KindInfo, obj: KubeObject, opts?: CreateOptions): Promise<KubeObject>;
  get(kind: KindInfo, namespace: string | undefined, name: string): Promise<KubeObject>;
  list(kind: KindInfo, opts?: ListOptions): Promise<ListResult>;
  /** As list(), with each item as its stored JSON text (no parse/serialise round trip for big lists). */
  listRaw?(kind: KindInfo, opts?: ListOptions): Promise<Omit<ListResult, 'items'> & { items: string[] }>;
  /**
   * Compare-and-swap on metadata.resourceVersion when it is set (409 Conflict if stale); an update
   * without one is applied to the latest version. generation rises only when .spec (or, for kinds
   * without spec, anything but metadata/status) changes. An object with deletionTimestamp whose
   * finalizers become empty is removed.
   */
  update(kind: KindInfo, obj: KubeObject, opts?: UpdateOptions): Promise<KubeObject>;
  /**
   * With finalizers (or a Foreground/Orphan propagationPolicy, which adds one): sets
   * deletionTimestamp and returns the object; otherwise removes it and returns the last state.
   */
  delete(
    kind: KindInfo,
    namespace: string | undefined,
    name: string,
    opts?: DeleteOptions,
  ): Promise<KubeObject>;
  /** Ends when signal aborts. Throws ApiError Gone (410) when resourceVersion is older than the retained history. */
  watch(kind: KindInfo, opts: WatchOptions, signal: AbortSignal): AsyncIterable<WatchEvent>;
  /** What `manager` last applied to this object (see AppliedConfig); undefined if never. Removed with the object. */
  getApplied(
    kind: KindInfo,
    namespace: string | undefined,
    name: string,
    manager: string,
  ): Promise<KubeObject | undefined>;
  /** Every manager's applied configuration of this object (what `applied` stored), for migrating them. */
  listApplied?(kind: KindInfo, namespace: string | undefined, name: string): Promise<AppliedConfig[]>;
  /** The current global revision. */
  currentRevision(): Promise<string>;
  /** True when Redis answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
