/**
 * Expectations (kube-controller-manager's UIDTrackingControllerExpectations): what a controller
 * has asked the store to do for one of its objects and not yet seen come back through the
 * informer. While some are outstanding the controller does not create or delete again for that
 * object, because its cache does not yet show what it did; after `timeoutMs` they are given up
 * (a lost event must not block the object for ever).
 */
export const EXPECTATIONS_TIMEOUT_MS = 5 * 60_000;

interface Expectation {
  /** The uid of the owner the expectation is about (a recreated owner starts afresh). */
  ownerUid: string;
  /** Creates issued and not yet observed (may go below 0 when others create pods too). */
  adds: number;
  /** uids of pods deleted and not yet observed gone. */
  deletes: Set<string>;
  setAtMs: number;
}

export class Expectations {
  private readonly byKey = new Map<string, Expectation>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly timeoutMs = EXPECTATIONS_TIMEOUT_MS,
  ) {}

  /** True when the controller may act on `key` again: nothing outstanding, or it expired. */
  satisfied(key: string, ownerUid: string): boolean {
    const e = this.byKey.get(key);
    if (!e || e.ownerUid !== ownerUid) return true;
    if (e.adds <= 0 && e.deletes.size === 0) return true;
    return this.now() - e.setAtMs >= this.timeoutMs;
  }

  /** Milliseconds until the outstanding expectation of `key` expires (undefined when none). */
  expiresInMs(key: string): number | undefined {
    const e = this.byKey.get(key);
    if (!e || (e.adds <= 0 && e.deletes.size === 0)) return undefined;
    return Math.max(0, e.setAtMs + this.timeoutMs - this.now());
  }

  /** Records that `n` creates are about to be issued (replaces what was recorded). */
  expectCreations(key: string, ownerUid: string, n: number): void {
    this.byKey.set(key, { ownerUid, adds: n, deletes: new Set(), setAtMs: this.now() });
  }

  /** Records that these pods are about to be deleted (replaces what was recorded). */
  expectDeletions(key: string, ownerUid: string, podUids: string[]): void {
    this.byKey.set(key, { ownerUid, adds: 0, deletes: new Set(podUids), setAtMs: this.now() });
  }

  /** A pod of `key` appeared in the cache, or `n` creates will never happen (they failed). */
  creationObserved(key: string, n = 1): void {
    const e = this.byKey.get(key);
    if (e) e.adds -= n;
  }

  /** The pod `podUid` of `key` is gone or being deleted, or its delete failed. */
  deletionObserved(key: string, podUid: string): void {
    this.byKey.get(key)?.deletes.delete(podUid);
  }

  /** What is outstanding for `key` (for logs and tests). */
  pending(key: string): { adds: number; deletes: number } | undefined {
    const e = this.byKey.get(key);
    return e && { adds: e.adds, deletes: e.deletes.size };
  }

  delete(key: string): void {
    this.byKey.delete(key);
  }

  clear(): void {
    this.byKey.clear();
  }
}
