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

type ProgressFn = (rev: string, last: string, ...resources: string[]) => Promise<string[]>;
/** A connection with the store's scripts defined. */
export type HubConnection = Redis & { berthProgress: ProgressFn };

export interface HubOptions {
  /** Opens (or returns) the hub's reader connection, ready for commands. */
  reader: () => Promise<HubConnection>;
  /** The store's main connection (for positions and waking the reader), ready for commands. */
  main: () => Promise<HubConnection>;
  revKey: string;
  lastKey: string;
  blockMs: number;
}

/** The watchers of one kind's stream and how far the hub has read it. */
interface Feed {
  stream: string;
  resource: string;
  sinks: Set<WatchSink>;
  /** Revision of the last entry read (entries after it are still to come). */
  pos: number;
  /** Resolves once pos is known; the loop reads only feeds whose position is known. */
  ready?: Promise<void>;
  active: boolean;
}

/**
 * One XREAD BLOCK loop per store over every watched kind's stream, fanned out to every watcher in
 * this process: a hundred watchers of any kinds cost one blocked connection. A watcher added
 * to a feed receives every entry after the feed's position at that moment (`pos`), which is never
 * newer than what the watcher's own list or replay then reads. A feed that gains its first watcher
 * learns its position from the main connection and wakes the blocked reader (CLIENT UNBLOCK) so
 * the next XREAD includes it. When the reader fails, every watcher fails (they resume from their
 * last resourceVersion); the next watcher restarts the loop.
 */
/**
 * The command's result, or a rejection as soon as the connection closes. ioredis, told not to
 * resend unfulfilled commands, silently drops a blocked XREAD when Redis restarts: without this the
 * reader (and every watcher) would wait for the command timeout instead of failing over at once.
 */
function untilClosed<T>(conn: Redis, command: Promise<T>): Promise<T> {
  let onClose: () => void = () => undefined;
  const closed = new Promise<never>((_, reject) => {
    onClose = () => reject(new Error('Connection is closed.'));
    conn.once('close', onClose);
  });
  return Promise.race([command, closed]).finally(() => conn.off('close', onClose));
}

export class StreamHub {
  private feeds = new Map<string, Feed>();
  private running = false;
  private closed = false;
  private readerId: number | undefined;

  constructor(private readonly o: HubOptions) {}

  /** Watchers per resource. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const f of this.feeds.values()) if (f.sinks.size) out[f.resource] = f.sinks.size;
    return out;
  }

  /** Registers a sink for a stream; resolves once the feed's position is known (rejects if Redis fails). */
  async add(stream: string, resource: string, sink: WatchSink): Promise<void> {
    if (this.closed) throw new Error('store is closed');
    let f = this.feeds.get(stream);
    if (!f) {
      f = { stream, resource, sinks: new Set(), pos: 0, active: false };
      this.feeds.set(stream, f);
    }
    f.sinks.add(sink);
    if (!f.ready) {
      const feed = f;
      feed.ready = (async () => {
        const main = await this.o.main();
        const [, last] = await main.berthProgress(this.o.revKey, this.o.lastKey, resource);
        feed.pos = Number(last);
        feed.active = true;
      })();
      feed.ready.catch(() => {
        if (this.feeds.get(stream) === feed) this.feeds.delete(stream);
      });
      await feed.ready;
      if (!this.running) this.start();
      else void this.wake();
      return;
    }
    await f.ready;
  }

  remove(stream: string, sink: WatchSink): void {
    this.feeds.get(stream)?.sinks.delete(sink);
  }

  close(): void {
    this.closed = true;
    for (const f of this.feeds.values()) for (const s of f.sinks) s.fail(new Error('store is closed'));
    this.feeds.clear();
  }

  /** Interrupts the reader's XREAD so the next one includes new feeds. Best effort. */
  private async wake(): Promise<void> {
    const id = this.readerId;
    if (id === undefined || id < 0) return;
    try {
      const main = await this.o.main();
      await main.client('UNBLOCK', id);
    } catch {
      // The reader then includes the new feed after its current XREAD times out.
    }
  }

  private start(): void {
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      const conn = await this.o.reader();
      for (;;) {
        for (const [k, f] of this.feeds) if (f.sinks.size === 0 && f.active) this.feeds.delete(k);
        const active = [...this.feeds.values()].filter((f) => f.active);
        if (this.closed || active.length === 0) {
          this.running = false;
          return;
        }
        if (this.readerId === undefined) {
          // Without CLIENT (restricted ACL) a new kind just waits for the current XREAD to time out.
          this.readerId = await untilClosed(conn, conn.client('ID')).then(Number, () => -1);
        }
        const res = (await untilClosed(
          conn,
          conn.xread(
            'COUNT',
            1000,
            'BLOCK',
            this.o.blockMs,
            'STREAMS',
            ...active.map((f) => f.stream),
            ...active.map((f) => `${f.pos}-0`),
          ),
        )) as [string, [string, string[]][]][] | null;
        if (!res) {
          // Nothing new (or woken): a feed whose stream has nothing after its position has seen
          // every revision up to the global one, so its watchers may bookmark that.
          const [rev, ...newest] = await untilClosed(
            conn,
            conn.berthProgress(this.o.revKey, this.o.lastKey, ...active.map((f) => f.resource)),
          );
          active.forEach((f, i) => {
            if (Number(newest[i]) <= f.pos) for (const s of f.sinks) s.push({ progress: Number(rev) });
          });
          continue;
        }
        for (const [stream, entries] of res) {
          const f = this.feeds.get(stream);
          if (!f) continue;
          for (const [id, fields] of entries) {
            const change = parseEntry(id, fields);
            if (change.rev > f.pos) f.pos = change.rev;
            for (const s of f.sinks) s.push(change);
          }
        }
      }
    } catch (e) {
      this.readerId = undefined;
      for (const f of this.feeds.values()) for (const s of f.sinks) s.fail(e);
      this.feeds.clear();
      this.running = false;
    }
  }
}
