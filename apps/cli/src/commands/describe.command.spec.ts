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

describe('describe workloads', () => {
  /** A context whose client lists ReplicaSets, pods and events from memory by kind. */
  function ctxWith(lists: Record<string, KubeObject[]>): CommandContext {
    const io: CliIO = {
      out: () => undefined,
      err: () => undefined,
      env: {},
      readStdin: async () => '',
      now: () => NOW,
    };
    const ctx = new CommandContext(io, {});
    Object.defineProperty(ctx, 'client', {
      value: { listAll: async (k: { kind: string }) => ({ metadata: {}, items: lists[k.kind] ?? [] }) },
    });
    return ctx;
  }
  const owner = [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd1', controller: true }];
  const tmpl = (image: string, hash?: string) => ({
    metadata: { labels: { app: 'web', ...(hash ? { 'pod-template-hash': hash } : {}) } },
    spec: { containers: [{ name: 'app', image }] },
  });
  const rs = (name: string, image: string, replicas: number): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name,
      namespace: 'default',
      uid: name,
      ownerReferences: owner,
      creationTimestamp: '2026-01-10T10:00:00Z',
    },
    spec: { replicas, template: tmpl(image, name) },
    status: { replicas },
  });

  test('a Deployment: replicas line, strategy, pod template, conditions with dashes, old and new ReplicaSets', async () => {
    const d: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'web',
        namespace: 'default',
        uid: 'd1',
        creationTimestamp: '2026-01-10T10:00:00Z',
        annotations: {
          'deployment.kubernetes.io/revision': '2',
          'kubectl.kubernetes.io/last-applied-configuration': '{"big":"json"}',
        },
      },
      spec: { replicas: 6, selector: { matchLabels: { app: 'web' } }, template: tmpl('x:2') },
      status: {
        replicas: 8,
        updatedReplicas: 6,
        availableReplicas: 5,
        unavailableReplicas: 3,
        conditions: [{ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' }],
      },
    };
    const text = await describeObject(
      ctxWith({ ReplicaSet: [rs('web-a', 'x:1', 2), rs('web-b', 'x:2', 6), rs('web-c', 'x:0', 0)] }),
      resolveKindName('deploy')!,
      d,
    );
    assert.equal(
      text,
      [
        'Name:                   web',
        'Namespace:              default',
        'CreationTimestamp:      2026-01-10T10:00:00Z',
        'Labels:                 <none>',
        'Annotations:            deployment.kubernetes.io/revision: 2',
        'Selector:               app=web',
        'Replicas:               6 desired | 6 updated | 8 total | 5 available | 3 unavailable',
        'StrategyType:           RollingUpdate',
        'MinReadySeconds:        0',
        'RollingUpdateStrategy:  25% max unavailable, 25% max surge',
        'Pod Template:',
        '  Labels:           app=web',
        '  Containers:',
        '    app:',
        '      Image:        x:2',
        'Conditions:',
        '  Type          Status   Reason',
        '  ----          ------   ------',
        '  Progressing   True     ReplicaSetUpdated',
        'OldReplicaSets:         web-a (2/2 replicas created)',
        'NewReplicaSet:          web-b (6/6 replicas created)',
        'Events:                 <none>',
        '',
      ].join('\n'),
    );
  });
});
