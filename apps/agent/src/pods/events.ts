import type { KubeObject } from '@berth/api';
import type { BerthClient } from '@berth/client';
import { EventRecorder as Aggregating, type EventType } from '@berth/controllers';

export type { EventType };

/**
 * Writes Events about pods through the API, aggregated (a repeat of the same reason and message
 * for the same container within 10 minutes bumps count/lastTimestamp of one Event, as kubelet's
 * recorder does). Best effort: a failed write is logged, never thrown.
 */
export class EventRecorder {
  private readonly inner: Aggregating;

  constructor(
    client: BerthClient,
    nodeName: string,
    warn: (msg: string, err: unknown) => void = () => undefined,
  ) {
    this.inner = new Aggregating(
      { create: (ev) => client.create(ev), update: (ev) => client.update(ev) },
      { component: 'berth-agent', host: nodeName, onError: warn },
    );
  }

  record(pod: KubeObject, type: EventType, reason: string, message: string, fieldPath?: string): void {
    void this.inner.record({ ...pod, apiVersion: 'v1', kind: 'Pod' }, type, reason, message, fieldPath);
  }
}
