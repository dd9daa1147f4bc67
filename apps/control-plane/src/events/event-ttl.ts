import type { KubeObject } from '@berth/api';

/** When an event was last seen: lastTimestamp, else series/eventTime, else firstTimestamp, else creation. */
export function lastSeenMs(ev: KubeObject): number {
  const e = ev as KubeObject & {
    lastTimestamp?: string;
    eventTime?: string;
    firstTimestamp?: string;
    series?: { lastObservedTime?: string };
  };
  for (const t of [
    e.lastTimestamp,
    e.series?.lastObservedTime,
    e.eventTime,
    e.firstTimestamp,
    ev.metadata.creationTimestamp,
  ]) {
    const ms = t ? Date.parse(t) : NaN;
    if (!Number.isNaN(ms)) return ms;
  }
  return NaN;
}

/** The events last seen more than ttlMs before now (events without any time are left alone). */
export function expiredEvents(events: KubeObject[], nowMs: number, ttlMs: number): KubeObject[] {
  return events.filter((ev) => {
    const t = lastSeenMs(ev);
    return !Number.isNaN(t) && nowMs - t > ttlMs;
  });
}
