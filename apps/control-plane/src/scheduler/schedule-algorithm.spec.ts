import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@berth/api';
import {
  DEFAULT_MEMORY_REQUEST,
  emptyNodeInfo,
  factsDiffer,
  failureMessage,
  filterNode,
  fits,
  isPendingPod,
  nodeFacts,
  numFeasibleNodesToFind,
  podInfo,
  schedule,
  tolerates,
  type NodeInfo,
  type PodInfo,
} from './schedule-algorithm';

const GI = 1024 ** 3;

function node(
  name: string,
  o: {
    cpu?: string;
    memory?: string;
    pods?: string;
    ready?: boolean;
    unschedulable?: boolean;
    labels?: Record<string, string>;
    taints?: { key: string; value?: string; effect: string }[];
  } = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: o.labels ?? {} },
    spec: { unschedulable: o.unschedulable, taints: o.taints },
    status: {
      allocatable: { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: o.pods ?? '110' },
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  };
}

function info(n: KubeObject): NodeInfo {
  const i = emptyNodeInfo(n.metadata.name as string);
  i.facts = nodeFacts(n);
  return i;
}

function pod(spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'u1', ...meta },
    spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
  };
}

const requests = (cpu?: string, memory?: string) => ({
  containers: [
    {
      name: 'c',
      image: 'busybox',
      resources: { requests: { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) } },
    },
  ],
});

/** Places `p` as a bound pod on `n` (what the cache does). */
function place(n: NodeInfo, p: PodInfo): void {
  n.requested.milliCpu += p.requests.milliCpu;
  n.requested.memory += p.requests.memory;
  n.requested.pods += 1;
  n.nonZeroRequested.milliCpu += p.nonZero.milliCpu;
  n.nonZeroRequested.memory += p.nonZero.memory;
  if (p.owner) n.ownerCounts.set(p.owner, (n.ownerCounts.get(p.owner) ?? 0) + 1);
}

describe('podInfo', () => {
  test('sums containers, raises to the largest init container, adds overhead; cpu in millicores', () => {
    const p = podInfo(
      pod({
        containers: [
          { name: 'a', image: 'x', resources: { requests: { cpu: '250m', memory: '64Mi' } } },
          { name: 'b', image: 'x', resources: { requests: { cpu: '0.5', memory: '1Gi' } } },
        ],
        initContainers: [{ name: 'i', image: 'x', resources: { requests: { cpu: '2', memory: '10Mi' } } }],
        overhead: { cpu: '10m', memory: '1Mi' },
      }),
    );
    assert.deepEqual(p.requests, { milliCpu: 2010, memory: 64 * 2 ** 20 + GI + 2 ** 20, pods: 1 });
  });

  test('a pod without requests counts 0 cpu/memory and 1 pod; scoring uses 100m/200Mi defaults', () => {
    const p = podInfo(pod());
    assert.deepEqual(p.requests, { milliCpu: 0, memory: 0, pods: 1 });
    assert.deepEqual(p.nonZero, { milliCpu: 100, memory: DEFAULT_MEMORY_REQUEST });
  });

  test('the owner is the controller ownerReference uid', () => {
    const p = podInfo(
      pod(
        {},
        {
          ownerReferences: [
            { apiVersion: 'v1', kind: 'X', name: 'x', uid: 'other' },
            { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'rs-uid', controller: true },
          ],
        },
      ),
    );
    assert.equal(p.owner, 'rs-uid');
    assert.equal(podInfo(pod()).owner, undefined);
  });
});

describe('isPendingPod', () => {
  test('only unbound, live, unfinished pods for the default scheduler', () => {
    assert.equal(isPendingPod(pod()), true);
    assert.equal(isPendingPod(pod({ schedulerName: 'default-scheduler' })), true);
    assert.equal(isPendingPod(pod({ nodeName: 'n1' })), false);
    assert.equal(isPendingPod(pod({ schedulerName: 'other' })), false);
    assert.equal(isPendingPod(pod({}, { deletionTimestamp: '2026-01-01T00:00:00Z' })), false);
    assert.equal(isPendingPod({ ...pod(), status: { phase: 'Failed' } }), false);
    assert.equal(isPendingPod({ ...pod(), status: { phase: 'Succeeded' } }), false);
  });
});

describe('filters', () => {
  test('a node that is not Ready is refused', () => {
    assert.deepEqual(filterNode(podInfo(pod()), info(node('n', { ready: false }))), [
      'node(s) were not ready',
    ]);
  });

  test('a cordoned node is refused unless the pod tolerates the unschedulable taint', () => {
    const n = info(node('n', { unschedulable: true }));
    assert.deepEqual(filterNode(podInfo(pod()), n), ['node(s) were unschedulable']);
    const tolerant = podInfo(
      pod({
        tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }],
      }),
    );
    assert.deepEqual(filterNode(tolerant, n), []);
  });

  test('NoSchedule/NoExecute taints need a toleration; PreferNoSchedule does not', () => {
    const n = info(
      node('n', {
        taints: [
          { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' },
          { key: 'soft', effect: 'PreferNoSchedule' },
        ],
      }),
    );
    assert.deepEqual(filterNode(podInfo(pod()), n), [
      'node(s) had untolerated taint {node.kubernetes.io/unreachable: }',
    ]);
    const p = podInfo(pod({ tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists' }] }));
    assert.deepEqual(filterNode(p, n), []);
  });

  test('toleration matching follows Kubernetes (key, operator, value, effect)', () => {
    const t = { key: 'k', value: 'v', effect: 'NoSchedule' };
    assert.equal(tolerates({ key: 'k', operator: 'Equal', value: 'v' }, t), true);
    assert.equal(tolerates({ key: 'k', value: 'v' }, t), true);
    assert.equal(tolerates({ key: 'k', operator: 'Equal', value: 'w' }, t), false);
    assert.equal(tolerates({ key: 'k', operator: 'Exists', effect: 'NoExecute' }, t), false);
    assert.equal(tolerates({ operator: 'Exists' }, t), true);
    assert.equal(tolerates({ key: 'other', operator: 'Exists' }, t), false);
  });

  test('nodeSelector must be a subset of the node labels', () => {
    const n = info(node('n', { labels: { disk: 'ssd', zone: 'a' } }));
    assert.deepEqual(filterNode(podInfo(pod({ nodeSelector: { disk: 'ssd' } })), n), []);
    assert.deepEqual(filterNode(podInfo(pod({ nodeSelector: { disk: 'hdd' } })), n), [
      "node(s) didn't match Pod's node affinity/selector",
    ]);
    assert.deepEqual(filterNode(podInfo(pod({ nodeSelector: { gpu: 'yes' } })), n), [
      "node(s) didn't match Pod's node affinity/selector",
    ]);
  });

  test('requests plus what bound pods request must fit allocatable; every short resource is named', () => {
    const n = info(node('n', { cpu: '1', memory: '1Gi', pods: '2' }));
    place(n, podInfo(pod(requests('600m', '512Mi'))));
    assert.deepEqual(filterNode(podInfo(pod(requests('400m', '512Mi'))), n), []);
    assert.deepEqual(filterNode(podInfo(pod(requests('401m', '513Mi'))), n), [
      'Insufficient cpu',
      'Insufficient memory',
    ]);
    place(n, podInfo(pod()));
    assert.deepEqual(filterNode(podInfo(pod()), n), ['Too many pods']);
  });

  test('a pod without requests fits a full node (it asks for nothing) but still counts as a pod', () => {
    const n = info(node('n', { cpu: '1', memory: '1Gi' }));
    place(n, podInfo(pod(requests('1', '1Gi'))));
    assert.deepEqual(filterNode(podInfo(pod()), n), []);
  });
});

describe('fits', () => {
  test('agrees with filterNode on every filter', () => {
    const nodes = [
      node('plain'),
      node('small', { cpu: '100m', memory: '64Mi', pods: '1' }),
      node('down', { ready: false }),
      node('cordoned', { unschedulable: true }),
      node('tainted', { taints: [{ key: 'k', value: 'v', effect: 'NoSchedule' }] }),
      node('ssd', { labels: { disk: 'ssd' } }),
    ].map(info);
    place(nodes[1], podInfo(pod()));
    const pods = [
      pod(),
      pod(requests('1', '1Gi')),
      pod({ nodeSelector: { disk: 'ssd' } }),
      pod({ tolerations: [{ operator: 'Exists' }] }),
      pod({ tolerations: [{ key: 'k', operator: 'Equal', value: 'v', effect: 'NoSchedule' }] }),
    ].map(podInfo);
    for (const p of pods)
      for (const n of nodes) assert.equal(fits(p, n), filterNode(p, n).length === 0, n.name);
  });
});

describe('schedule', () => {
  test('six replicas of one owner on three equal nodes come out 2/2/2', () => {
    const nodes = ['a', 'b', 'c'].map((n) => info(node(n)));
    const counts = new Map<string, number>();
    let start = 0;
    for (let i = 0; i < 6; i++) {
      const p = podInfo(
        pod(requests('100m', '64Mi'), {
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'rs1', controller: true },
          ],
        }),
      );
      const r = schedule(p, nodes, start);
      assert.ok(r.ok);
      start = r.index + 1;
      place(nodes[r.index], p);
      counts.set(r.node, (counts.get(r.node) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(counts), { a: 2, b: 2, c: 2 });
  });

  test('spreading an owner comes before least requested', () => {
    const [a, b] = ['a', 'b'].map((n) => info(node(n)));
    place(a, podInfo(pod(requests('3', '6Gi')))); // a is busy...
    const owned = {
      ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'x', uid: 'o', controller: true }],
    };
    place(b, podInfo(pod({}, owned))); // ...but b already has one of this owner
    const r = schedule(podInfo(pod({}, owned)), [a, b]);
    assert.ok(r.ok);
    assert.equal(r.node, 'a');
  });

  test('without an owner the least requested node wins', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => info(node(n)));
    place(a, podInfo(pod(requests('2', '1Gi'))));
    place(c, podInfo(pod(requests('1', '4Gi'))));
    const r = schedule(podInfo(pod()), [a, b, c]);
    assert.ok(r.ok);
    assert.equal(r.node, 'b');
  });

  test('equal nodes are taken in turn from the start index (deterministic rotation)', () => {
    const nodes = ['a', 'b', 'c'].map((n) => info(node(n, { cpu: '64', memory: '256Gi' })));
    const order: string[] = [];
    let start = 0;
    for (let i = 0; i < 6; i++) {
      const p = podInfo(pod());
      const r = schedule(p, nodes, start);
      assert.ok(r.ok);
      order.push(r.node);
      start = r.index + 1;
      place(nodes[r.index], p);
    }
    assert.deepEqual(order, ['a', 'b', 'c', 'a', 'b', 'c']);
  });

  test('no fit: the message counts every reason over the nodes, in kube-scheduler wording', () => {
    const nodes = [
      info(node('a', { memory: '1Gi' })),
      info(node('b', { memory: '1Gi' })),
      info(node('c', { labels: {} })),
      info(node('d', { unschedulable: true })),
      info(node('e', { ready: false })),
      info(node('f', { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] })),
    ];
    const p = podInfo(pod({ ...requests(undefined, '2Gi'), nodeSelector: { disk: 'ssd' } }));
    // a and b match no selector either: the selector filter runs first.
    const r = schedule(p, nodes);
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.equal(
      r.message,
      "0/6 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 1 node(s) were not ready, 1 node(s) were unschedulable, 3 node(s) didn't match Pod's node affinity/selector.",
    );

    const big = podInfo(pod(requests(undefined, '16Gi')));
    const r2 = schedule(big, [info(node('a')), info(node('b')), info(node('c', { labels: {} }))]);
    assert.ok(!r2.ok);
    assert.equal(r2.message, '0/3 nodes are available: 3 Insufficient memory.');
  });

  test('large clusters: a decision stops after numFeasibleNodesToFind fits, and replicas still spread evenly', () => {
    assert.equal(numFeasibleNodesToFind(3), 3);
    assert.equal(numFeasibleNodesToFind(99), 99);
    assert.equal(numFeasibleNodesToFind(100), 100);
    assert.equal(numFeasibleNodesToFind(1000), 420);
    assert.equal(numFeasibleNodesToFind(5000), 500);
    assert.equal(numFeasibleNodesToFind(100_000), 5000);
    const nodes = Array.from({ length: 1000 }, (_, i) => info(node(`n${i}`)));
    // The window: a node beyond the first 420 that fit is not looked at, even if it is emptier.
    place(nodes[0], podInfo(pod(requests('1'))));
    const emptier = podInfo(pod());
    for (let i = 1; i < 1000; i++) place(nodes[i], emptier);
    nodes[999].requested = { milliCpu: 0, memory: 0, pods: 0 };
    nodes[999].nonZeroRequested = { milliCpu: 0, memory: 0 };
    const r = schedule(podInfo(pod()), nodes, 0, 420);
    assert.ok(r.ok);
    assert.notEqual(r.node, 'n999');
    // 2,000 replicas of one owner over 1,000 nodes: two each.
    const fresh = Array.from({ length: 1000 }, (_, i) => info(node(`m${i}`)));
    const owned = {
      ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'x', uid: 'big', controller: true }],
    };
    let start = 0;
    for (let i = 0; i < 2000; i++) {
      const p = podInfo(pod(requests('10m', '16Mi'), owned));
      const d = schedule(p, fresh, start, numFeasibleNodesToFind(fresh.length));
      assert.ok(d.ok);
      start = d.index + 1;
      place(fresh[d.index], p);
    }
    assert.ok(fresh.every((n) => n.ownerCounts.get('big') === 2));
  });

  test('no nodes at all', () => {
    const r = schedule(podInfo(pod()), []);
    assert.ok(!r.ok);
    assert.equal(r.message, 'no nodes available to schedule pods');
  });

  test('failureMessage sorts "count reason" strings as kube-scheduler does', () => {
    const m = failureMessage(
      3,
      new Map([
        ["node(s) didn't match Pod's node affinity/selector", 2],
        ['Insufficient memory', 1],
      ]),
    );
    assert.equal(
      m,
      "0/3 nodes are available: 1 Insufficient memory, 2 node(s) didn't match Pod's node affinity/selector.",
    );
  });
});

describe('factsDiffer', () => {
  test('heartbeats do not matter; readiness, cordon, taints, labels and allocatable do', () => {
    const base = node('n', { labels: { a: '1' } });
    const beat = structuredClone(base);
    beat.status.conditions[0].lastHeartbeatTime = '2026-01-01T00:00:00Z';
    assert.equal(factsDiffer(nodeFacts(base), nodeFacts(beat)), false);
    assert.equal(
      factsDiffer(nodeFacts(base), nodeFacts(node('n', { labels: { a: '1' }, ready: false }))),
      true,
    );
    assert.equal(
      factsDiffer(nodeFacts(base), nodeFacts(node('n', { labels: { a: '1' }, unschedulable: true }))),
      true,
    );
    assert.equal(factsDiffer(nodeFacts(base), nodeFacts(node('n', { labels: { a: '2' } }))), true);
    assert.equal(factsDiffer(nodeFacts(base), nodeFacts(node('n', { labels: { a: '1' }, cpu: '8' }))), true);
    assert.equal(
      factsDiffer(
        nodeFacts(base),
        nodeFacts(node('n', { labels: { a: '1' }, taints: [{ key: 'k', effect: 'NoSchedule' }] })),
      ),
      true,
    );
  });
});
