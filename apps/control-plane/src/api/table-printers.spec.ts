import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@berth/api';
import { DEFAULT_PRINTER, humanDuration, nodeRoles, podSummary, printerFor, since } from './table-printers';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const ago = (ms: number): string => new Date(NOW - ms).toISOString();
const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

function pod(
  spec: Record<string, unknown>,
  status: Record<string, unknown>,
  meta: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', creationTimestamp: ago(3 * M), ...meta },
    spec: { containers: [{ name: 'a', image: 'i' }], ...spec },
    status,
  };
}

const running = (name: string, ready = true, restartCount = 0): Record<string, unknown> => ({
  name,
  ready,
  restartCount,
  state: { running: { startedAt: ago(M) } },
});

test('humanDuration keeps two or three significant figures, coarser with age', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [-1500, '0s'],
    [-2500, '<invalid>'],
    [45 * S, '45s'],
    [119 * S, '119s'],
    [2 * M, '2m'],
    [2 * M + 5 * S, '2m5s'],
    [9 * M + 59 * S, '9m59s'],
    [10 * M + 30 * S, '10m'],
    [179 * M, '179m'],
    [3 * H, '3h'],
    [3 * H + 20 * M, '3h20m'],
    [8 * H + 20 * M, '8h'],
    [47 * H, '47h'],
    [2 * D, '2d'],
    [2 * D + 4 * H, '2d4h'],
    [8 * D + 4 * H, '8d'],
    [400 * D, '400d'],
    [3 * 365 * D + 10 * D, '3y10d'],
    [3 * 365 * D, '3y'],
    [9 * 365 * D + 100 * D, '9y'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
  assert.equal(since(ago(5 * M), NOW), '5m');
  assert.equal(since(undefined, NOW), '<unknown>');
  assert.equal(since('not a date', NOW), '<unknown>');
});

test('pod STATUS: phase, a waiting or terminated reason of the last container, Terminating, never-written status', () => {
  assert.deepEqual(podSummary(pod({}, {}), NOW), { ready: '0/1', status: 'Pending', restarts: '0' });
  assert.equal(
    podSummary(pod({}, { phase: 'Running', containerStatuses: [running('a')] }), NOW).status,
    'Running',
  );
  assert.equal(
    podSummary(pod({}, { phase: 'Pending', reason: 'Evicted' }), NOW).status,
    'Evicted',
    'status.reason wins over the phase',
  );
  const crash = pod(
    {},
    {
      phase: 'Running',
      containerStatuses: [
        { name: 'a', ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } } },
      ],
    },
  );
  assert.deepEqual(podSummary(crash, NOW), { ready: '0/1', status: 'CrashLoopBackOff', restarts: '4' });
  const exited = pod(
    {},
    {
      phase: 'Failed',
      containerStatuses: [
        { name: 'a', ready: false, restartCount: 0, state: { terminated: { exitCode: 3 } } },
      ],
    },
  );
  assert.equal(podSummary(exited, NOW).status, 'ExitCode:3');
  const killed = pod(
    {},
    {
      phase: 'Failed',
      containerStatuses: [
        { name: 'a', ready: false, restartCount: 0, state: { terminated: { exitCode: 137, signal: 9 } } },
      ],
    },
  );
  assert.equal(podSummary(killed, NOW).status, 'Signal:9');
  const deleting = pod(
    {},
    { phase: 'Running', containerStatuses: [running('a')] },
    { deletionTimestamp: ago(S) },
  );
  assert.equal(podSummary(deleting, NOW).status, 'Terminating');
  const doneDeleting = pod({}, { phase: 'Succeeded' }, { deletionTimestamp: ago(S) });
  assert.equal(podSummary(doneDeleting, NOW).status, 'Succeeded', 'a finished pod is not Terminating');
  const gated = pod(
    {},
    { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated' }] },
  );
  assert.equal(podSummary(gated, NOW).status, 'SchedulingGated');
});

test('pod READY counts ready running containers; Completed with one still running is Running or NotReady', () => {
  const two = { containers: [{ name: 'a' }, { name: 'b' }] };
  const half = pod(two, { phase: 'Running', containerStatuses: [running('a'), running('b', false)] });
  assert.equal(podSummary(half, NOW).ready, '1/2');
  const oneDone = (ready: boolean) =>
    pod(two, {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      containerStatuses: [
        running('a'),
        {
          name: 'b',
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: 0, reason: 'Completed' } },
        },
      ],
    });
  assert.equal(podSummary(oneDone(true), NOW).status, 'Running');
  assert.equal(podSummary(oneDone(false), NOW).status, 'NotReady');
});

test('pod RESTARTS sums the restart counts and says how long ago the last one ended', () => {
  const p = pod(
    { containers: [{ name: 'a' }, { name: 'b' }] },
    {
      phase: 'Running',
      containerStatuses: [
        { ...running('a', true, 2), lastState: { terminated: { exitCode: 1, finishedAt: ago(10 * M) } } },
        { ...running('b', true, 1), lastState: { terminated: { exitCode: 1, finishedAt: ago(4 * M) } } },
      ],
    },
  );
  assert.deepEqual(podSummary(p, NOW), { ready: '2/2', status: 'Running', restarts: '3 (4m ago)' });
});

test('pod init containers: Init:N/M, Init:REASON, failures, and restartable (sidecar) init containers', () => {
  const spec = { initContainers: [{ name: 'i1' }, { name: 'i2' }] };
  const done = {
    name: 'i1',
    ready: false,
    restartCount: 0,
    state: { terminated: { exitCode: 0, reason: 'Completed' } },
  };
  const waitingInit = pod(spec, {
    phase: 'Pending',
    initContainerStatuses: [done, { name: 'i2', ready: false, restartCount: 0, state: { running: {} } }],
  });
  assert.equal(podSummary(waitingInit, NOW).status, 'Init:1/2');
  const backoff = pod(spec, {
    phase: 'Pending',
    initContainerStatuses: [
      { name: 'i1', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } } },
    ],
  });
  assert.deepEqual(podSummary(backoff, NOW), {
    ready: '0/1',
    status: 'Init:CrashLoopBackOff',
    restarts: '3',
  });
  const failed = pod(spec, {
    phase: 'Failed',
    initContainerStatuses: [
      { name: 'i1', ready: false, restartCount: 0, state: { terminated: { exitCode: 2 } } },
    ],
  });
  assert.equal(podSummary(failed, NOW).status, 'Init:ExitCode:2');
  assert.equal(
    podSummary(
      pod(spec, {
        phase: 'Pending',
        initContainerStatuses: [{ name: 'i1', state: { waiting: { reason: 'PodInitializing' } } }],
      }),
      NOW,
    ).status,
    'Init:0/2',
  );

  const sidecar = pod(
    { initContainers: [{ name: 'log', restartPolicy: 'Always' }] },
    {
      phase: 'Running',
      conditions: [{ type: 'Initialized', status: 'True' }],
      initContainerStatuses: [{ ...running('log', true, 1), started: true }],
      containerStatuses: [running('a')],
    },
  );
  assert.deepEqual(podSummary(sidecar, NOW), { ready: '2/2', status: 'Running', restarts: '1' });
});

test('pod cells: wide columns with <none> placeholders and readiness gates; Completed row condition', () => {
  const p = printerFor('Pod');
  assert.deepEqual(
    p.columns.map((c) => [c.name, c.priority]),
    [
      ['Name', 0],
      ['Ready', 0],
      ['Status', 0],
      ['Restarts', 0],
      ['Age', 0],
      ['IP', 1],
      ['Node', 1],
      ['Nominated Node', 1],
      ['Readiness Gates', 1],
    ],
  );
  assert.deepEqual(p.cells(pod({}, {}), NOW), [
    'p',
    '0/1',
    'Pending',
    '0',
    '3m',
    '<none>',
    '<none>',
    '<none>',
    '<none>',
  ]);
  const gated = pod(
    { nodeName: 'n1', readinessGates: [{ conditionType: 'x/a' }, { conditionType: 'x/b' }] },
    {
      phase: 'Running',
      podIPs: [{ ip: '10.0.0.9' }],
      conditions: [{ type: 'x/a', status: 'True' }],
      containerStatuses: [running('a')],
    },
  );
  assert.deepEqual(p.cells(gated, NOW).slice(5), ['10.0.0.9', 'n1', '<none>', '1/2']);
  assert.equal(p.cells(pod({}, { phase: 'Running', podIP: '10.0.0.3' }), NOW)[5], '10.0.0.3');
  assert.equal(p.conditions!(pod({}, { phase: 'Running' })), undefined);
  assert.equal(p.conditions!(pod({}, { phase: 'Failed' }))![0].reason, 'Failed');
});

const template = {
  metadata: { labels: { app: 'web' } },
  spec: {
    containers: [
      { name: 'web', image: 'nginx:1' },
      { name: 'log', image: 'busybox' },
    ],
  },
};

test('deployment and replicaset cells: counts, containers, images and the selector', () => {
  const d: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', creationTimestamp: ago(2 * D) },
    spec: {
      replicas: 3,
      selector: {
        matchLabels: { app: 'web' },
        matchExpressions: [{ key: 'tier', operator: 'In', values: ['b', 'a'] }],
      },
      template,
    },
    status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 1 },
  };
  assert.deepEqual(printerFor('Deployment').cells(d, NOW), [
    'web',
    '2/3',
    3,
    1,
    '2d',
    'web,log',
    'nginx:1,busybox',
    'app=web,tier in (a,b)',
  ]);
  assert.deepEqual(
    printerFor('Deployment')
      .cells({ ...d, status: undefined }, NOW)
      .slice(1, 4),
    ['0/3', 0, 0],
    'no status yet',
  );
  const rs: KubeObject = { ...d, kind: 'ReplicaSet', status: { replicas: 3, readyReplicas: 2 } };
  assert.deepEqual(printerFor('ReplicaSet').cells(rs, NOW).slice(0, 4), ['web', 3, 3, 2]);
  assert.equal(
    printerFor('ReplicaSet').cells({ ...rs, spec: { ...rs.spec, selector: {} } }, NOW)[7],
    '<none>',
  );
  assert.deepEqual(
    printerFor('ReplicaSet').columns.map((c) => c.name),
    ['Name', 'Desired', 'Current', 'Ready', 'Age', 'Containers', 'Images', 'Selector'],
  );
});

test('node cells: Ready/NotReady/Unknown, SchedulingDisabled, roles, addresses and node info', () => {
  const node = (
    status: Record<string, unknown>,
    spec: Record<string, unknown> = {},
    labels: Record<string, string> = {},
  ): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n1', labels, creationTimestamp: ago(H) },
    spec,
    status,
  });
  const p = printerFor('Node');
  const ready = node(
    {
      conditions: [{ type: 'Ready', status: 'True' }],
      addresses: [
        { type: 'Hostname', address: 'n1' },
        { type: 'InternalIP', address: '10.0.0.1' },
      ],
      nodeInfo: {
        kubeletVersion: 'v1.32.0-berth',
        osImage: 'Debian',
        kernelVersion: '6.1',
        containerRuntimeVersion: 'runc://1.1',
      },
    },
    {},
    { 'node-role.kubernetes.io/worker': '', 'node-role.kubernetes.io/control-plane': '' },
  );
  assert.deepEqual(p.cells(ready, NOW), [
    'n1',
    'Ready',
    'control-plane,worker',
    '60m',
    'v1.32.0-berth',
    '10.0.0.1',
    '<none>',
    'Debian',
    '6.1',
    'runc://1.1',
  ]);
  const cordoned = node({ conditions: [{ type: 'Ready', status: 'Unknown' }] }, { unschedulable: true });
  assert.deepEqual(p.cells(cordoned, NOW).slice(1, 3), ['NotReady,SchedulingDisabled', '<none>']);
  assert.deepEqual(p.cells(node({}), NOW).slice(7), ['<unknown>', '<unknown>', '<unknown>']);
  assert.equal(p.cells(node({}), NOW)[1], 'Unknown');
  assert.deepEqual(nodeRoles({ 'kubernetes.io/role': 'edge', 'node-role.kubernetes.io/': '' }), ['edge']);
});

test('event cells: object, times, count, source; series and eventTime when the legacy fields are empty', () => {
  const p = printerFor('Event');
  assert.deepEqual(
    p.columns.filter((c) => c.priority === 0).map((c) => c.name),
    ['Last Seen', 'Type', 'Reason', 'Object', 'Message'],
  );
  const ev: KubeObject = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'web.1' },
    involvedObject: { kind: 'Pod', name: 'web', fieldPath: 'spec.containers{web}' },
    reason: 'BackOff',
    type: 'Warning',
    message: '  Back-off restarting  \n',
    firstTimestamp: ago(10 * M),
    lastTimestamp: ago(30 * S),
    count: 7,
    source: { component: 'berth-agent', host: 'n1' },
  };
  assert.deepEqual(p.cells(ev, NOW), [
    '30s',
    'Warning',
    'BackOff',
    'pod/web',
    'spec.containers{web}',
    'berth-agent, n1',
    'Back-off restarting',
    '10m',
    7,
    'web.1',
  ]);
  const modern: KubeObject = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'e' },
    involvedObject: { kind: 'Node' },
    eventTime: ago(5 * M),
    reportingComponent: 'scheduler',
    series: { count: 4, lastObservedTime: ago(M + 30 * S) },
  };
  const cells = p.cells(modern, NOW);
  assert.deepEqual([cells[0], cells[3], cells[5], cells[7], cells[8]], ['90s', 'node', 'scheduler', '5m', 4]);
  assert.equal(p.cells({ ...modern, series: undefined }, NOW)[8], 1, 'a singleton counts once');
});

test('namespace, configmap, secret and lease cells; the NAME/AGE default', () => {
  const meta = { name: 'x', creationTimestamp: ago(45 * S) };
  assert.deepEqual(
    printerFor('Namespace').cells(
      { apiVersion: 'v1', kind: 'Namespace', metadata: meta, status: { phase: 'Active' } },
      NOW,
    ),
    ['x', 'Active', '45s'],
  );
  assert.equal(
    printerFor('Namespace').cells(
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { ...meta, deletionTimestamp: ago(S) },
        status: { phase: 'Active' },
      },
      NOW,
    )[1],
    'Terminating',
  );
  assert.deepEqual(
    printerFor('ConfigMap').cells(
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta, data: { a: '1' }, binaryData: { b: 'AA==' } },
      NOW,
    ),
    ['x', 2, '45s'],
  );
  assert.deepEqual(
    printerFor('Secret').cells(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: meta,
        type: 'Opaque',
        data: { a: 'YQ==' },
        stringData: { a: 'a', b: 'b' },
      },
      NOW,
    ),
    ['x', 'Opaque', 2, '45s'],
  );
  assert.deepEqual(
    printerFor('Lease').cells(
      {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: meta,
        spec: { holderIdentity: 'cp-1' },
      },
      NOW,
    ),
    ['x', 'cp-1', '45s'],
  );
  assert.equal(printerFor('Widget'), DEFAULT_PRINTER);
  assert.deepEqual(
    DEFAULT_PRINTER.columns.map((c) => c.name),
    ['Name', 'Age'],
  );
  assert.deepEqual(DEFAULT_PRINTER.cells({ apiVersion: 'x/v1', kind: 'Widget', metadata: meta }, NOW), [
    'x',
    '45s',
  ]);
});

test('every printer has one cell per column and a name column formatted as name', () => {
  for (const kind of [
    'Pod',
    'Deployment',
    'ReplicaSet',
    'Node',
    'Namespace',
    'ConfigMap',
    'Secret',
    'Event',
    'Lease',
  ]) {
    const p = printerFor(kind);
    assert.notEqual(p, DEFAULT_PRINTER, kind);
    const empty: KubeObject = { apiVersion: 'v1', kind, metadata: { name: 'n' } };
    assert.equal(p.cells(empty, NOW).length, p.columns.length, kind);
    assert.equal(p.columns.filter((c) => c.format === 'name').length, 1, kind);
  }
});
