import { randomBytes } from 'node:crypto';
import type { KubeObject } from '@berth/api';

export type EventType = 'Normal' | 'Warning';

/** Where events are written: the store in the control plane, the API client in the agent. */
export interface EventSink {
  create(ev: KubeObject): Promise<KubeObject>;
  /** Replaces the event (no resourceVersion precondition needed). */
  update(ev: KubeObject): Promise<KubeObject>;
}

export interface EventRecorderOptions {
  /** Who reports: source.component / reportingComponent. */
  component: string;
  /** source.host / reportingInstance (the node or the control plane's identity). */
  host?: string;
  /** Identical events seen again within this window update count/lastTimestamp; default 10 min. */
  aggregateWindowMs?: number;
  /**
   * Past this many distinct messages for one object + type + reason within the window, further
   * ones update one "(combined from similar events): ..." Event; default 10 (Kubernetes').
   */
  maxSimilar?: number;
  /** How many distinct events are remembered for aggregation; default 4096. */
  cacheSize?: number;
  onError?: (msg: string, err: unknown) => void;
  now?: () => Date;
}

interface Seen {
  /** The stored event last written (or being written). */
  event: KubeObject;
  lastSeenMs: number;
  /** Writes for one key are chained so counts never go backwards. */
  chain: Promise<void>;
  /** Occurrences not written yet: one update carries all that came while the last write ran. */
  pending?: { count: number; message: string; at: Date };
}

const timestamp = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Records Events about objects, aggregated as Kubernetes' recorder does: an event with the same
 * object, reason, message, type and field path as one written within the window updates that
 * Event (count + 1, lastTimestamp) instead of creating another; past `maxSimilar` different
 * messages for one object and reason, the rest share one combined Event. Occurrences that come
 * while the previous write for their Event runs are written together (one update, count + n). Best effort: a failed write is
 * reported through onError, never thrown.
 */
export class EventRecorder {
  private readonly seen = new Map<string, Seen>();
  /** Distinct messages per object + type + reason within the window. */
  private readonly similar = new Map<string, { messages: Set<string>; sinceMs: number }>();

  constructor(
    private readonly sink: EventSink,
    private readonly o: EventRecorderOptions,
  ) {}

  /** Records an event; the returned promise settles when it is written (callers need not wait). */
  record(
    obj: KubeObject,
    type: EventType,
    reason: string,
    message: string,
    fieldPath?: string,
  ): Promise<void> {
    const now = this.o.now?.() ?? new Date();
    const ns = obj.metadata.namespace || 'default';
    const similarKey = [
      obj.metadata.uid ?? `${obj.kind}/${ns}/${obj.metadata.name}`,
      fieldPath ?? '',
      type,
      reason,
    ].join('\u0000');
    let key = `${similarKey}\u0000${message}`;
    const window = this.o.aggregateWindowMs ?? 600_000;
    if (!this.seen.has(key)) {
      // Many different messages with one reason for one object ("Created pod: x" for each pod of
      // a ReplicaSet): past a threshold they go into one "combined" Event, as Kubernetes'
      // event correlator does, instead of one write each.
      let sim = this.similar.get(similarKey);
      if (!sim || now.getTime() - sim.sinceMs >= window) {
        sim = { messages: new Set(), sinceMs: now.getTime() };
        this.similar.set(similarKey, sim);
        this.trimSimilar();
      }
      sim.messages.add(message);
      if (sim.messages.size > (this.o.maxSimilar ?? 10)) {
        key = `${similarKey}\u0000(combined)`;
        message = `(combined from similar events): ${message}`;
      }
    }
    const prev = this.seen.get(key);
    if (prev && now.getTime() - prev.lastSeenMs < window) {
      prev.lastSeenMs = now.getTime();
      this.seen.delete(key);
      this.seen.set(key, prev); // most recently used last
      if (prev.pending) {
        prev.pending.count++;
        prev.pending.message = message;
        prev.pending.at = now;
        return prev.chain;
      }
      prev.pending = { count: 1, message, at: now };
      prev.chain = prev.chain.then(() => this.bump(key, prev));
      return prev.chain;
    }
    const ev: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${obj.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
        ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}),
        ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
        ...(fieldPath ? { fieldPath } : {}),
      },
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: timestamp(now),
      lastTimestamp: timestamp(now),
      source: { component: this.o.component, ...(this.o.host ? { host: this.o.host } : {}) },
      reportingComponent: this.o.component,
      reportingInstance: this.o.host ?? '',
    };
    const entry: Seen = { event: ev, lastSeenMs: now.getTime(), chain: Promise.resolve() };
    this.seen.set(key, entry);
    this.trim();
    entry.chain = this.sink.create(ev).then(
      (stored) => {
        entry.event = stored;
      },
      (e: unknown) => {
        this.seen.delete(key);
        this.o.onError?.(`event ${reason} for ${obj.kind} ${ns}/${obj.metadata.name} not written`, e);
      },
    );
    return entry.chain;
  }

  private async bump(key: string, entry: Seen): Promise<void> {
    const p = entry.pending;
    entry.pending = undefined;
    if (!p || this.seen.get(key) !== entry) return;
    const now = p.at;
    const next: KubeObject = {
      ...entry.event,
      message: p.message,
      metadata: { ...entry.event.metadata },
      count: ((entry.event.count as number | undefined) ?? 1) + p.count,
      lastTimestamp: timestamp(now),
    };
    delete next.metadata.resourceVersion;
    try {
      entry.event = await this.sink.update(next);
    } catch (e) {
      let err = e;
      // Expired (TTL) or deleted by someone: start a new series.
      if ((e as { code?: number }).code === 404) {
        const fresh: KubeObject = {
          ...next,
          metadata: { name: next.metadata.name, namespace: next.metadata.namespace },
          count: p.count,
          firstTimestamp: timestamp(now),
        };
        try {
          entry.event = await this.sink.create(fresh);
          return;
        } catch (e2) {
          err = e2;
        }
      }
      this.seen.delete(key);
      this.o.onError?.(`event ${String(next.reason)} not updated`, err);
    }
  }

  private trimSimilar(): void {
    const max = this.o.cacheSize ?? 4096;
    while (this.similar.size > max) this.similar.delete(this.similar.keys().next().value as string);
  }

  private trim(): void {
    const max = this.o.cacheSize ?? 4096;
    while (this.seen.size > max) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
    }
  }
}
