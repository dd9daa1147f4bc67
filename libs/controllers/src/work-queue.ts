/** The result of one reconcile: ask to be called again after a while (e.g. a pull backoff). */
export type ReconcileResult = { requeueAfterMs?: number } | void;

/** A reconcile failure that retrying cannot fix (bad spec): reported, not requeued. */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
}

export type Reconcile = (key: string, signal: AbortSignal) => Promise<ReconcileResult>;

export interface WorkQueueOptions {
  workers?: number;
  /** Per-key backoff after a failed reconcile: base doubling up to max. */
  failureBaseMs?: number;
  failureMaxMs?: number;
  onError?: (key: string, err: unknown) => void;
}

/**
 * A work queue of keys (controller-runtime style): a key waiting is queued once however often it
 * is added; one key is never reconciled by two workers at once (added while running, it runs
 * again after); a failure requeues it with per-key exponential backoff; addAfter for timed
 * requeues. Reconcile reads current state, so coalescing adds loses nothing.
 */
export class WorkQueue {
  /** FIFO of waiting keys: queue[head..] (an index, not shift(), which is O(n) on long queues). */
  private queue: string[] = [];
  private head = 0;
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; t: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private active = 0;
  private readonly abort = new AbortController();
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly reconcile: Reconcile,
    private readonly opts: WorkQueueOptions = {},
  ) {}

  add(key: string): void {
    if (this.abort.signal.aborted) return;
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Adds `key` after `ms`; an earlier pending timer for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.abort.signal.aborted) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const cur = this.timers.get(key);
    if (cur && cur.at <= at) return;
    if (cur) clearTimeout(cur.t);
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    t.unref();
    this.timers.set(key, { at, t });
  }

  get length(): number {
    return this.queue.length - this.head;
  }

  /** Stops handing out keys and cancels timers; running reconciles see their signal aborted. */
  shutdown(): void {
    this.abort.abort();
    for (const { t } of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.queue = [];
    this.head = 0;
    this.queued.clear();
  }

  /** Resolves when nothing is queued or running (timers may still be pending). */
  async idle(): Promise<void> {
    if (!this.active && !this.length) return;
    await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  private pump(): void {
    const workers = this.opts.workers ?? 4;
    while (this.active < workers && this.length) {
      const key = this.queue[this.head++];
      if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.queued.delete(key);
      this.running.add(key);
      this.active++;
      void this.work(key);
    }
    if (!this.active && !this.length) for (const w of this.idleWaiters.splice(0)) w();
  }

  private async work(key: string): Promise<void> {
    let requeue: number | undefined;
    try {
      const r = await this.reconcile(key, this.abort.signal);
      this.failures.delete(key);
      if (r && r.requeueAfterMs !== undefined) requeue = r.requeueAfterMs;
    } catch (e) {
      if (e instanceof TerminalError) {
        this.failures.delete(key);
        this.opts.onError?.(key, e);
        return this.finish(key, undefined);
      }
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      requeue = Math.min(this.opts.failureMaxMs ?? 30_000, (this.opts.failureBaseMs ?? 200) * 2 ** (n - 1));
      this.opts.onError?.(key, e);
    }
    this.finish(key, requeue);
  }

  private finish(key: string, requeue: number | undefined): void {
    this.running.delete(key);
    this.active--;
    if (this.dirty.delete(key)) this.add(key);
    if (requeue !== undefined) this.addAfter(key, requeue);
    this.pump();
  }
}
