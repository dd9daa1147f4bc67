import { randomBytes } from 'node:crypto';
import type { KubeObject } from '@berth/api';
import type { BerthClient } from '@berth/client';

export type EventType = 'Normal' | 'Warning';

/** Writes Events about pods (best effort: a failed write is logged, never thrown). */
export class EventRecorder {
  constructor(
    private readonly client: BerthClient,
    private readonly nodeName: string,
    private readonly warn: (msg: string, err: unknown) => void = () => undefined,
  ) {}

  record(pod: KubeObject, type: EventType, reason: string, message: string, fieldPath?: string): void {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const ns = pod.metadata.namespace ?? 'default';
    const ev: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${pod.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'Pod',
        name: pod.metadata.name,
        namespace: ns,
        uid: pod.metadata.uid,
        ...(fieldPath ? { fieldPath } : {}),
      },
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: 'berth-agent', host: this.nodeName },
      reportingComponent: 'berth-agent',
      reportingInstance: this.nodeName,
    };
    this.client
      .create(ev)
      .catch((e: unknown) => this.warn(`event ${reason} for ${ns}/${pod.metadata.name} not written`, e));
  }
}
