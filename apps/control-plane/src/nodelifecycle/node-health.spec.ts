import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@berth/api';
import { decideNode, TAINT_NOT_READY, TAINT_UNREACHABLE, type NodeMemory } from './node-health';

const T = { gracePeriodMs: 40_000, evictionTimeoutMs: 60_000 };
const ISO = '2026-11-27T00:00:00Z';

function node(ready: 'True' | 'False' | 'Unknown', hb = 'h1', taints?: unknown[]): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n1' },
    spec: taints ? { taints } : {},
    status: { conditions: [{ type: 'Ready', status: ready, lastHeartbeatTime: hb }] },
  };
}
const lease = (renew: string): KubeObject => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name: 'n1', namespace: 'kube-node-lease' },
  spec: { renewTime: renew },
});

describe('node health decisions', () => {
  test('a node first seen gets a full grace period from now, whatever its timestamps say', () => {
    const a = decideNode(node('True'), lease('r1'), undefined, 1_000_000, T, ISO);
    assert.equal(a.markUnknown, false);
    assert.equal(a.evict, false);
    assert.equal(a.taints, undefined);
    assert.equal(a.memory.heartbeatAtMs, 1_000_000);
    assert.equal(a.requeueAfterMs, 40_010);
  });

  test('lease renewals keep a node Ready; a silent lease past the grace period makes it Unknown and tainted', () => {
    let m: NodeMemory | undefined = decideNode(node('True'), lease('r1'), undefined, 0, T, ISO).memory;
    let a = decideNode(node('True'), lease('r2'), m, 30_000, T, ISO);
    assert.equal(a.markUnknown, false);
    assert.equal(a.memory.heartbeatAtMs, 30_000);
    m = a.memory;
    a = decideNode(node('True'), lease('r2'), m, 69_000, T, ISO);
    assert.equal(a.markUnknown, false, 'still within 40 s of the last renewal');
    a = decideNode(node('True'), lease('r2'), m, 70_001, T, ISO);
    assert.equal(a.markUnknown, true);
    assert.equal(a.markPodsNotReady, true);
    assert.deepEqual(
      a.taints?.map((t) => `${t.key}:${t.effect}`),
      [`${TAINT_UNREACHABLE}:NoSchedule`, `${TAINT_UNREACHABLE}:NoExecute`],
    );
    assert.equal(a.evict, false);
    assert.equal(a.memory.notReadySinceMs, 70_001);
  });

  test('pods are evicted only after the eviction timeout of being NotReady', () => {
    const m0 = decideNode(node('True'), lease('r1'), undefined, 0, T, ISO).memory;
    const a1 = decideNode(node('True'), lease('r1'), m0, 41_000, T, ISO);
    assert.equal(a1.markUnknown, true);
    const a2 = decideNode(node('Unknown', 'h1'), lease('r1'), a1.memory, 100_000, T, ISO);
    assert.equal(a2.markUnknown, false, 'already Unknown');
    assert.equal(a2.evict, false, '59 s NotReady < 60 s');
    const a3 = decideNode(node('Unknown', 'h1'), lease('r1'), a2.memory, 101_001, T, ISO);
    assert.equal(a3.evict, true);
  });

  test('our own Ready=Unknown write is not mistaken for a heartbeat', () => {
    const m0 = decideNode(node('True'), lease('r1'), undefined, 0, T, ISO).memory;
    const a1 = decideNode(node('True'), lease('r1'), m0, 41_000, T, ISO);
    const a2 = decideNode(node('Unknown', 'h1', a1.taints), lease('r1'), a1.memory, 42_000, T, ISO);
    assert.equal(a2.memory.heartbeatAtMs, 0);
    assert.equal(a2.taints, undefined, 'keeps the unreachable taints it has');
  });

  test('a node that reports again loses its taints and its NotReady spell', () => {
    const tainted = [
      { key: TAINT_UNREACHABLE, effect: 'NoSchedule' },
      { key: TAINT_UNREACHABLE, effect: 'NoExecute' },
      { key: 'team', value: 'a', effect: 'NoSchedule' },
    ];
    const m: NodeMemory = { heartbeat: 'old', heartbeatAtMs: 0, notReadySinceMs: 41_000 };
    const a = decideNode(node('True', 'h9', tainted), lease('r9'), m, 200_000, T, ISO);
    assert.equal(a.becameReady, true);
    assert.equal(a.evict, false);
    assert.deepEqual(a.taints, [{ key: 'team', value: 'a', effect: 'NoSchedule' }]);
    assert.equal(a.memory.notReadySinceMs, undefined);
  });

  test('an agent reporting Ready=False gets the not-ready taint, not unreachable', () => {
    const a = decideNode(node('False'), lease('r1'), undefined, 0, T, ISO);
    assert.equal(a.markUnknown, false);
    assert.deepEqual(
      a.taints?.map((t) => `${t.key}:${t.effect}`),
      [`${TAINT_NOT_READY}:NoSchedule`, `${TAINT_NOT_READY}:NoExecute`],
    );
  });
});
