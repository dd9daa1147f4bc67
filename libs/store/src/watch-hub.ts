import type { KubeObject } from '@berth/api';
import type Redis from 'ioredis';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One stream entry: a change at revision `rev`. */
export interface Change {
  rev: number;
  type: ChangeType;
  /** The object JSON as stored (resourceVersion = rev). */
  raw: string;
  /** Parsed once and shared by every watcher for filtering: read-only. */
  obj: KubeObject;
  /** Selectable projection of the previous state (MODIFIED only). */
  prev?: KubeObject;
}

/** Parses an XRANGE/XREAD entry ([id, [field, value, ...]]). */
export function parseEntry(id: string, fields: string[]): Change {
  let type: ChangeType = 'MODIFIED';
  let raw = '';
  let prev: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const f = fields[i];
    if (f === 'type') type = fields[i + 1] as ChangeType;
    else if (f === 'object') raw = fields[i + 1];
    else if (f === 'prev') prev = fields[i + 1];
  }
  const rev = Number(id.slice(0, id.indexOf('-')));
  return {
    rev,
    type,
    raw,
    obj: JSON.parse(raw) as KubeObject,
    prev: prev ? (JSON.parse(prev) as KubeObject) : undefined,
  };
}

export type SinkItem = Change | { progress: number };

/**
 * The queue between a StreamHub and one watcher. Bounded: a watcher that falls `limit` events
 * behind is failed (its client resumes from its last resourceVersion) instead of growing memory.
 */
export class WatchSink {
  readonly queue: SinkItem[] = [];
  error: unknown;
  private waiter: (() => void) | undefined;

  constructor(private readonly limit: number) {}

  push(item: SinkItem): void {
    if (this.error) return;
    if (this.queue.length >= this.limit) {
      this.fail(new Error(`watch consumer fell more than ${this.limit} events behind`));
      return;
    }
    this.queue.push(item);
    this.wake();
  }

  fail(err: unknown): void {
    if (!this.error) this.error = err;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Resolves when something is pushed, the sink fails, `ms` pass, or the signal aborts. */
  wait(ms: number | undefined, signal: AbortSignal): Promise<void> {
    if (this.queue.length || this.error || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiter = undefined;
        resolve();
      };
      this.waiter = done;
      signal.addEventListener('abort', done, { once: true });
      if (ms !== undefined) timer = setTimeout(done, Math.max(0, ms));
    });
  }
}

export interface HubOptions {
  /** Opens (or returns) this hub's reader connection, ready for commands. */
  connection: () => Promise<Redis>;
  stream: string;
  /** Resource name (field of the last-entry hash). */
  resource: string;
  revKey: string;
  lastKey: string;
  blockMs: number;
}

type ProgressConn = Redis & {
  berthProgress(rev: string, last: string, resource: string): Promise<[string, string]>;
};

/**
 * One XREAD BLOCK loop per kind, fanned out to every watcher of that kind in this process, so a
 * hundred watchers cost one blocked connection. The loop runs while it has watchers. A watcher
 * added while it runs receives every entry after the hub's position at that moment (`pos`),
 * which is never newer than what the watcher's own list or replay then reads.
 * When the loop's connection fails every watcher is failed; the next watcher restarts the loop.
 */
export class StreamHub {
  private sinks = new Set<WatchSink>();
  private running = false;
  private ready: Promise<void> = Promise.resolve();
  private pos = 0;
  private closed = false;

  constructor(private readonly o: HubOptions) {}

  get watchers(): number {
    return this.sinks.size;
  }

  /** Registers a sink; resolves once the hub knows its position (rejects if Redis fails). */
  async add(sink: WatchSink): Promise<void> {
    if (this.closed) throw new Error('store is closed');
    this.sinks.add(sink);
    if (!this.running) this.start();
    await this.ready;
  }

  remove(sink: WatchSink): void {
    this.sinks.delete(sink);
  }

  close(): void {
    this.closed = true;
    for (const s of this.sinks) s.fail(new Error('store is closed'));
    this.sinks.clear();
  }

  private start(): void {
    this.running = true;
    let ok!: () => void;
    let fail!: (e: unknown) => void;
    this.ready = new Promise<void>((res, rej) => {
      ok = res;
      fail = rej;
    });
    this.ready.catch(() => undefined);
    void this.loop(ok, fail);
  }

  private async loop(ok: () => void, fail: (e: unknown) => void): Promise<void> {
    try {
      const conn = (await this.o.connection()) as ProgressConn;
      const [, last] = await conn.berthProgress(this.o.revKey, this.o.lastKey, this.o.resource);
      this.pos = Number(last);
      ok();
      for (;;) {
        if (this.sinks.size === 0 || this.closed) {
          this.running = false;
          return;
        }
        const res = (await conn.xread(
          'COUNT',
          1000,
          'BLOCK',
          this.o.blockMs,
          'STREAMS',
          this.o.stream,
          `${this.pos}-0`,
        )) as [string, [string, string[]][]][] | null;
        if (!res) {
          // Nothing new: if the stream's newest entry is still ours, every revision up to the
          // global one is delivered for this kind, so watchers may bookmark it.
          const [rev, newest] = await conn.berthProgress(this.o.revKey, this.o.lastKey, this.o.resource);
          if (Number(newest) <= this.pos) for (const s of this.sinks) s.push({ progress: Number(rev) });
          continue;
        }
        for (const [, entries] of res) {
          for (const [id, fields] of entries) {
            const change = parseEntry(id, fields);
            this.pos = change.rev;
            for (const s of this.sinks) s.push(change);
          }
        }
      }
    } catch (e) {
      fail(e);
      for (const s of this.sinks) s.fail(e);
      this.sinks.clear();
      this.running = false;
    }
  }
}
