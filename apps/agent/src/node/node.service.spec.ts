import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type KindInfo, type KubeObject, type NodeStatusV1 } from '@berth/api';
import type { BerthClient } from '@berth/client';
import { NodeService, statusDiffers, statusReportInterval } from './node.service';
import type { HostInfo } from './node-status';

const info: HostInfo = {
  nodeName: 'n1',
  hostname: 'host-1',
  internalIP: '10.0.0.5',
  cpus: 2,
  memoryBytes: 1024 * 1024 * 1024,
  maxPods: 110,
  kernelVersion: '6.1.0',
  osImage: 'Linux',
  architecture: 'amd64',
  runtimeVersion: 'runc://1.1.5',
  port: 10250,
};

/** A tiny API: objects by kind/namespace/name with resourceVersions; records writes. */
function fakeApi() {
  const objects = new Map<string, KubeObject>();
  const writes: string[] = [];
  let rv = 1;
  const key = (kind: string, ns: string | undefined, name: string) => `${kind}/${ns ?? ''}/${name}`;
  const put = (o: KubeObject) => {
    const stored = structuredClone({
      ...o,
      metadata: { ...o.metadata, uid: o.metadata.uid ?? `${o.kind}-uid`, resourceVersion: String(++rv) },
    });
    objects.set(key(o.kind, o.metadata.namespace, o.metadata.name!), stored);
    return structuredClone(stored);
  };
  const client = {
    get: async (k: KindInfo, ns: string | undefined, name: string) => {
      const o = objects.get(key(k.kind, ns, name));
      if (!o) throw new ApiError('NotFound', 'not found');
      return structuredClone(o);
    },
    create: async (o: KubeObject) => {
      writes.push(`create ${o.kind}`);
      if (objects.has(key(o.kind, o.metadata.namespace, o.metadata.name!)))
        throw new ApiError('AlreadyExists', 'exists');
      return put(o);
    },
    update: async (o: KubeObject) => {
      writes.push(`update ${o.kind}`);
      return put(o);
    },
    updateStatus: async (o: KubeObject) => {
      writes.push(`status ${o.kind}`);
      return put(o);
    },
  } as unknown as BerthClient;
  return { client, objects, writes };
}

const quiet = { info: () => undefined, warn: () => undefined };

describe('node service', () => {
  test('status report interval: 60 s, or 5 heartbeats when sooner, unless configured', () => {
    assert.equal(statusReportInterval(5000), 25_000);
    assert.equal(statusReportInterval(20_000), 60_000);
    assert.equal(statusReportInterval(1000, 120_000), 120_000);
  });

  test('a status differs when Ready is not True or anything but heartbeat times changed', () => {
    const mine: NodeStatusV1 = {
      capacity: { cpu: '2' },
      conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: 'b', lastTransitionTime: 't' }],
    };
    const same = {
      ...mine,
      conditions: [{ ...mine.conditions![0], lastHeartbeatTime: 'a' }],
      extra: 1,
    } as NodeStatusV1;
    assert.equal(statusDiffers(same, mine), false);
    assert.equal(statusDiffers({ ...same, capacity: { cpu: '4' } }, mine), true);
    assert.equal(
      statusDiffers({ ...same, conditions: [{ ...same.conditions![0], status: 'Unknown' }] }, mine),
      true,
    );
    assert.equal(statusDiffers(undefined, mine), true);
  });

  test('register creates the Node and its Lease owned by it; beats renew the Lease and post status only when due or changed', async () => {
    const { client, objects, writes } = fakeApi();
    let t = Date.parse('2026-01-01T00:00:00Z');
    const svc = new NodeService({
      client,
      info,
      heartbeatIntervalMs: 1000,
      statusReportIntervalMs: 10_000,
      log: quiet,
      now: () => new Date(t),
    });
    await svc.register();
    const lease = objects.get('Lease/kube-node-lease/n1')!;
    assert.deepEqual(lease.metadata.ownerReferences, [
      { apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'Node-uid' },
    ]);
    writes.length = 0;
    t += 1000;
    await svc.beat();
    assert.deepEqual(writes, ['update Lease'], 'nothing changed, not due: the Lease only');
    t += 10_000;
    await svc.beat();
    assert.deepEqual(writes, ['update Lease', 'update Lease', 'status Node'], 'due: a full status');
    const ready = () =>
      (objects.get('Node//n1')!.status as NodeStatusV1).conditions!.find((c) => c.type === 'Ready')!;
    assert.equal(ready().lastHeartbeatTime, '2026-01-01T00:00:11Z');
  });

  test('a Ready=Unknown written by the control plane while the agent was away is put back to True at the next beat', async () => {
    const { client, objects, writes } = fakeApi();
    let t = Date.parse('2026-01-01T00:00:00Z');
    const svc = new NodeService({
      client,
      info,
      heartbeatIntervalMs: 1000,
      log: quiet,
      now: () => new Date(t),
    });
    await svc.register();
    const node = objects.get('Node//n1')!;
    const st = node.status as NodeStatusV1;
    st.conditions = [
      {
        type: 'Ready',
        status: 'Unknown',
        reason: 'NodeStatusUnknown',
        lastTransitionTime: '2026-01-01T00:00:40Z',
      },
    ];
    t += 50_000;
    writes.length = 0;
    await svc.beat();
    assert.ok(writes.includes('status Node'));
    const ready = (objects.get('Node//n1')!.status as NodeStatusV1).conditions!.find(
      (c) => c.type === 'Ready',
    )!;
    assert.equal(ready.status, 'True');
    assert.equal(ready.lastTransitionTime, '2026-01-01T00:00:50Z', 'a new transition');
  });

  test('a deleted Node is registered again', async () => {
    const { client, objects } = fakeApi();
    const svc = new NodeService({ client, info, heartbeatIntervalMs: 1000, log: quiet });
    await svc.register();
    objects.delete('Node//n1');
    await svc.beat();
    assert.ok(objects.has('Node//n1'));
  });
});
