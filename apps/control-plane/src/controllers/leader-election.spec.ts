import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@berth/api';
import { MemoryStore } from '../testing/memory-store';
import { decide, LEASE_KIND, LeaderElector, microTime } from './leader-election';
import { enabledControllers, leaderIdentity } from './controller-manager';

const lease = (holder: string, rv: string, seconds = 15): KubeObject => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name: 'l', namespace: 'kube-system', resourceVersion: rv },
  spec: { holderIdentity: holder, leaseDurationSeconds: seconds },
});

describe('leader election decisions', () => {
  test('create a missing lease, renew our own, take a released one', () => {
    assert.equal(decide(undefined, 'me', 0, undefined, 15_000), 'create');
    assert.equal(decide(lease('me', '3'), 'me', 0, undefined, 15_000), 'renew');
    assert.equal(decide(lease('', '3'), 'me', 0, undefined, 15_000), 'acquire');
  });

  test("another holder's lease is taken only after it stayed unchanged for its duration on our clock", () => {
    const l = lease('other', '7', 15);
    assert.equal(decide(l, 'me', 100_000, undefined, 15_000), 'wait');
    assert.equal(
      decide(l, 'me', 100_000, { resourceVersion: '6', atMs: 0 }, 15_000),
      'wait',
      'renewed since',
    );
    assert.equal(decide(l, 'me', 15_000, { resourceVersion: '7', atMs: 0 }, 15_000), 'wait');
    assert.equal(decide(l, 'me', 15_001, { resourceVersion: '7', atMs: 0 }, 15_000), 'acquire');
  });

  test('holder identities: host_port, and distinct random ones when the port is chosen at start', () => {
    assert.equal(leaderIdentity('vm', 6443), 'vm_6443');
    const a = leaderIdentity('vm', 0);
    assert.match(a, /^vm_[0-9a-f]{8}$/);
    assert.notEqual(a, leaderIdentity('vm', 0));
  });

  test('Lease times carry microseconds', () => {
    assert.equal(microTime(new Date('2026-01-02T03:04:05.678Z')), '2026-01-02T03:04:05.678000Z');
  });

  test('--controllers selects, adds and removes controllers; unknown names are refused', () => {
    assert.deepEqual([...enabledControllers('*,-scheduler')].includes('scheduler'), false);
    assert.deepEqual([...enabledControllers('scheduler,replicaset')], ['scheduler', 'replicaset']);
    assert.throws(() => enabledControllers('*,-shceduler'), /unknown controller "shceduler"/);
    assert.equal(enabledControllers('none').size, 0);
  });
});

describe('LeaderElector', () => {
  test('one of two candidates leads; the other takes over after the lease expires; a stopped leader releases', async () => {
    const store = new MemoryStore();
    let now = 0;
    const events: string[] = [];
    const mk = (id: string) =>
      new LeaderElector({
        store,
        identity: id,
        namespace: 'kube-system',
        name: 'l',
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 2000,
        onStartedLeading: () => events.push(`${id} leads`),
        onStoppedLeading: () => events.push(`${id} stops`),
        log: { info: () => undefined, warn: () => undefined },
        now: () => now,
      });
    const a = mk('a');
    const b = mk('b');
    await a.tryOnce();
    await b.tryOnce();
    assert.deepEqual(events, ['a leads']);
    assert.equal(a.isLeader, true);
    assert.equal(b.isLeader, false);
    // a stops renewing (dies); b sees the same resourceVersion for longer than 15 s.
    now = 10_000;
    await b.tryOnce();
    assert.equal(b.isLeader, false);
    now = 25_001;
    await b.tryOnce();
    assert.equal(b.isLeader, true);
    const l = await store.get(LEASE_KIND, 'kube-system', 'l');
    assert.equal((l.spec as { holderIdentity: string }).holderIdentity, 'b');
    assert.equal((l.spec as { leaseTransitions: number }).leaseTransitions, 1);
    // b shuts down: releases, and a new candidate takes the lease on its first try.
    await b.stop();
    const c = mk('c');
    await c.tryOnce();
    assert.equal(c.isLeader, true);
    assert.deepEqual(events, ['a leads', 'b leads', 'b stops', 'c leads']);
  });

  test('stop() ends the election loop without waiting for the next retry', { timeout: 10_000 }, async () => {
    const store = new MemoryStore();
    let led!: () => void;
    const leading = new Promise<void>((r) => (led = r));
    const e = new LeaderElector({
      store,
      identity: 'solo',
      namespace: 'kube-system',
      name: 'l',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 3_600_000, // a stop that waited for the next round would hang the test
      onStartedLeading: () => led(),
      onStoppedLeading: () => undefined,
      log: { info: () => undefined, warn: () => undefined },
    });
    e.start();
    await leading;
    await e.stop();
    const l = await store.get(LEASE_KIND, 'kube-system', 'l');
    assert.equal((l.spec as { holderIdentity: string }).holderIdentity, '', 'released on stop');
  });
});
