import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveKindName, type KubeObject } from '@berth/api';
import { CommandContext } from '../context';
import type { CliIO } from '../io';
import { describeObject } from './describe.command';

const NOW = Date.parse('2026-01-10T12:00:00Z');

/** A context whose client answers the events list from memory. */
function ctxWithEvents(events: KubeObject[]): CommandContext {
  const io: CliIO = {
    out: () => undefined,
    err: () => undefined,
    env: {},
    readStdin: async () => '',
    now: () => NOW,
  };
  const ctx = new CommandContext(io, {});
  Object.defineProperty(ctx, 'client', {
    value: { listAll: async () => ({ apiVersion: 'v1', kind: 'EventList', metadata: {}, items: events }) },
  });
  return ctx;
}

const pod: KubeObject = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web-1',
    namespace: 'default',
    uid: 'u1',
    creationTimestamp: '2026-01-10T11:00:00Z',
    labels: { app: 'web', tier: 'front' },
    ownerReferences: [
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'r1', controller: true },
    ],
  },
  spec: {
    nodeName: 'node-1',
    restartPolicy: 'Always',
    containers: [{ name: 'app', image: 'busybox:1.36', command: ['sleep', '3600'] }],
  },
  status: {
    phase: 'Running',
    podIP: '10.0.0.5',
    startTime: '2026-01-10T11:00:01Z',
    containerStatuses: [
      {
        name: 'app',
        ready: true,
        restartCount: 2,
        state: { running: { startedAt: '2026-01-10T11:50:00Z' } },
        lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', finishedAt: '2026-01-10T11:49:59Z' } },
      },
    ],
  },
};

describe('describe', () => {
  test('a pod: metadata, node, status, each container with image, state, last state and restart count, and its events', async () => {
    const events: KubeObject[] = [
      {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: 'e1', namespace: 'default', creationTimestamp: '2026-01-10T11:59:00Z' },
        involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'default', uid: 'u1' },
        type: 'Warning',
        reason: 'OOMKilled',
        message: 'container app was killed',
        source: { component: 'berth-agent' },
        lastTimestamp: '2026-01-10T11:59:00Z',
      },
      {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: 'e2', namespace: 'default' },
        involvedObject: { kind: 'Pod', name: 'other', namespace: 'default' },
        type: 'Normal',
        reason: 'Pulled',
        message: 'not about web-1',
      },
    ];
    const text = await describeObject(ctxWithEvents(events), resolveKindName('po')!, pod);
    assert.equal(
      text,
      [
        'Name:               web-1',
        'Namespace:          default',
        'CreationTimestamp:  2026-01-10T11:00:00Z',
        'Labels:             app=web',
        '                    tier=front',
        'Annotations:        <none>',
        'Node:               node-1',
        'Start Time:         2026-01-10T11:00:01Z',
        'Status:             Running',
        'IP:                 10.0.0.5',
        'Controlled By:      ReplicaSet/web-abc',
        'Containers:',
        '  app:',
        '    Image:          busybox:1.36',
        '    Command:        sleep 3600',
        '    State:          Running',
        '      Started:      2026-01-10T11:50:00Z',
        '    Last State:     Terminated',
        '      Reason:       OOMKilled',
        '      Exit Code:    137',
        '      Finished:     2026-01-10T11:49:59Z',
        '    Ready:          true',
        '    Restart Count:  2',
        'Restart Policy:     Always',
        'Node-Selectors:     <none>',
        'Events:',
        '  Type      Reason      Age    From          Message',
        '  ----      ------      ----   ----          -------',
        '  Warning   OOMKilled   60s    berth-agent   container app was killed',
        '',
      ].join('\n'),
    );
  });

  test('no events about the object: Events: <none>', async () => {
    const text = await describeObject(ctxWithEvents([]), resolveKindName('ns')!, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'team' },
    });
    assert.equal(
      text,
      'Name:               team\nCreationTimestamp:  <none>\nLabels:             <none>\nAnnotations:        <none>\nStatus:             Active\nEvents:             <none>\n',
    );
  });
});
