import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerV1, ProbeV1 } from '@berth/api';
import type { Clock } from '../supervisor';
import type { ProbeExecutor, ProbeOutput, ProbeTarget } from './probe-executor';
import { ProbeManager, type ProbedRun } from './probe-manager';

/** A clock whose time moves only when told; due timers fire in order. */
class ManualClock implements Clock {
  t = Date.parse('2026-01-01T00:00:00Z');
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (h: unknown) => void this.timers.delete(h as number);
  get pending(): number {
    return this.timers.size;
  }
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const next = [...this.timers.entries()]
        .filter(([, x]) => x.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
}

const flush = () => new Promise<void>((r) => setImmediate(r));

/** Answers each probe kind from a script; records what it ran. */
class FakeExecutor implements ProbeExecutor {
  calls: { probe: ProbeV1; target: ProbeTarget; timeoutMs: number }[] = [];
  answer: (probe: ProbeV1) => ProbeOutput = () => ({ outcome: 'success', message: '' });
  run(probe: ProbeV1, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutput> {
    this.calls.push({ probe, target, timeoutMs });
    return Promise.resolve(this.answer(probe));
  }
}

function setup() {
  const clock = new ManualClock();
  const exec = new FakeExecutor();
  const events: { type: string; reason: string; message: string; field?: string }[] = [];
  const kills: { id: string; startedAt: string; grace: number }[] = [];
  const changes: string[] = [];
  const m = new ProbeManager({
    executor: exec,
    clock,
    events: { record: (_p, type, reason, message, field) => events.push({ type, reason, message, field }) },
    kill: (id, startedAt, grace) => {
      kills.push({ id, startedAt, grace });
      return Promise.resolve();
    },
  });
  m.on('change', (uid) => changes.push(uid));
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'uid-1' },
    spec: { terminationGracePeriodSeconds: 7 },
  };
  const run = (over: Partial<ProbedRun> = {}): ProbedRun => ({
    id: 'c1',
    state: 'running',
    pid: 4242,
    startedAt: new Date(clock.t).toISOString(),
    ...over,
  });
  return { clock, exec, events, kills, changes, m, pod, run };
}

const live: ProbeV1 = { exec: { command: ['true'] }, periodSeconds: 1, failureThreshold: 2 };
const ready: ProbeV1 = { httpGet: { port: 'http', path: '/ready' }, periodSeconds: 1 };

describe('ProbeManager', () => {
  test('a failing liveness probe: one Unhealthy event per failure, then Killing and a kill of that run with the pod grace period', async () => {
    const { clock, exec, events, kills, m, pod, run } = setup();
    const c: ContainerV1 = { name: 'main', image: 'busybox', livenessProbe: live };
    const r = run();
    m.update(pod, c, r);
    exec.answer = () => ({ outcome: 'failure', message: 'boom' });
    await clock.advance(0);
    assert.equal(exec.calls.length, 1);
    assert.deepEqual(exec.calls[0].target, { id: 'c1', pid: 4242, hostNetwork: false, ports: [] });
    assert.equal(exec.calls[0].timeoutMs, 1000);
    assert.equal(kills.length, 0);
    await clock.advance(1000);
    assert.deepEqual(
      events.map((e) => [e.type, e.reason, e.message, e.field]),
      [
        ['Warning', 'Unhealthy', 'Liveness probe failed: boom', 'spec.containers{main}'],
        ['Warning', 'Unhealthy', 'Liveness probe failed: boom', 'spec.containers{main}'],
        [
          'Normal',
          'Killing',
          'Container main failed liveness probe, will be restarted',
          'spec.containers{main}',
        ],
      ],
    );
    assert.deepEqual(kills, [{ id: 'c1', startedAt: r.startedAt, grace: 7 }]);
    assert.equal(m.has('c1'), false, 'the killed run is not probed any more');
    m.update(pod, c, r); // a pod sync while it is being killed
    await clock.advance(5000);
    assert.equal(exec.calls.length, 2);
    assert.equal(kills.length, 1, 'one kill per run');
  });

  test('a restarted container is probed afresh, after its initial delay again', async () => {
    const { clock, exec, m, pod, run } = setup();
    const c: ContainerV1 = {
      name: 'main',
      image: 'busybox',
      livenessProbe: { ...live, initialDelaySeconds: 3 },
    };
    m.update(pod, c, run());
    await clock.advance(2999);
    assert.equal(exec.calls.length, 0, 'nothing before the initial delay');
    await clock.advance(1);
    assert.equal(exec.calls.length, 1);
    m.update(pod, c, run({ state: 'waiting' }));
    assert.equal(m.has('c1'), false, 'a stopped container has no workers');
    assert.equal(clock.pending, 0);
    m.update(pod, c, run());
    await clock.advance(2000);
    assert.equal(exec.calls.length, 1);
    await clock.advance(1000);
    assert.equal(exec.calls.length, 2);
  });

  test('readiness: not ready until the probe succeeds, change events on flips, Unhealthy for each failure, never a kill', async () => {
    const { clock, exec, events, kills, changes, m, pod, run } = setup();
    const c: ContainerV1 = {
      name: 'web',
      image: 'busybox',
      ports: [{ name: 'http', containerPort: 8080 }],
      readinessProbe: { ...ready, failureThreshold: 1 },
    };
    const r = run();
    assert.deepEqual(m.status(c, r), { started: true, ready: false }, 'before any worker');
    m.update(pod, c, r);
    assert.deepEqual(m.status(c, r), { started: true, ready: false });
    let ok = true;
    exec.answer = () =>
      ok
        ? { outcome: 'success', message: '' }
        : { outcome: 'failure', message: 'HTTP probe failed with statuscode: 404' };
    await clock.advance(0);
    assert.deepEqual(m.status(c, r), { started: true, ready: true });
    assert.deepEqual(changes, ['uid-1']);
    assert.deepEqual(exec.calls[0].target.ports, [{ name: 'http', containerPort: 8080 }]);
    ok = false;
    await clock.advance(1000);
    assert.deepEqual(m.status(c, r), { started: true, ready: false });
    assert.deepEqual(changes, ['uid-1', 'uid-1']);
    await clock.advance(1000);
    assert.equal(changes.length, 2, 'no change while it stays unready');
    assert.deepEqual(
      events.map((e) => e.message),
      [
        'Readiness probe failed: HTTP probe failed with statuscode: 404',
        'Readiness probe failed: HTTP probe failed with statuscode: 404',
      ],
    );
    assert.equal(kills.length, 0);
    assert.deepEqual(m.status(c, run({ state: 'waiting' })), { started: false, ready: false });
  });

  test('a container without probes is ready while running and gets no workers', () => {
    const { clock, m, pod, run } = setup();
    const c: ContainerV1 = { name: 'main', image: 'busybox' };
    m.update(pod, c, run());
    assert.equal(m.has('c1'), false);
    assert.equal(clock.pending, 0);
    assert.deepEqual(m.status(c, run()), { started: true, ready: true });
  });

  test('liveness and readiness wait for the startup probe; a failed startup probe kills', async () => {
    const { clock, exec, kills, m, pod, run } = setup();
    const startup: ProbeV1 = { tcpSocket: { port: 1 }, periodSeconds: 1, failureThreshold: 3 };
    const c: ContainerV1 = {
      name: 'main',
      image: 'busybox',
      startupProbe: startup,
      livenessProbe: live,
      readinessProbe: ready,
    };
    const r = run();
    m.update(pod, c, r);
    let started = false;
    exec.answer = (p) =>
      p === startup && !started
        ? { outcome: 'failure', message: 'refused' }
        : { outcome: 'success', message: '' };
    await clock.advance(1000);
    assert.ok(
      exec.calls.every((x) => x.probe === startup),
      'only the startup probe runs',
    );
    assert.deepEqual(m.status(c, r), { started: false, ready: false });
    started = true;
    const before = exec.calls.length;
    await clock.advance(1000);
    // the startup probe succeeds first in this tick; liveness and readiness follow at once
    const kinds = exec.calls.slice(before).map((x) => x.probe);
    assert.deepEqual(kinds, [startup, live, ready]);
    await clock.advance(1000);
    assert.ok(
      !exec.calls.slice(before + 3).some((x) => x.probe === startup),
      'startup stops once it succeeded',
    );
    assert.deepEqual(m.status(c, r), { started: true, ready: true });

    const s2 = setup();
    s2.m.update(s2.pod, { name: 'main', image: 'busybox', startupProbe: startup }, s2.run());
    s2.exec.answer = () => ({ outcome: 'failure', message: 'refused' });
    await s2.clock.advance(2000);
    assert.equal(s2.kills.length, 1);
    assert.ok(s2.events.some((e) => e.message === 'Container main failed startup probe, will be restarted'));
    assert.equal(kills.length, 0);
  });

  test('removePod stops every worker of the pod', () => {
    const { clock, m, pod, run } = setup();
    m.update(pod, { name: 'a', image: 'busybox', livenessProbe: live }, run({ id: 'a' }));
    m.update(pod, { name: 'b', image: 'busybox', readinessProbe: ready }, run({ id: 'b' }));
    assert.equal(clock.pending, 2);
    m.removePod('uid-1');
    assert.equal(clock.pending, 0);
    assert.equal(m.has('a') || m.has('b'), false);
  });

  test('a run adopted from before the agent started that was reported ready stays ready until a probe fails', async () => {
    const { clock, exec, m, pod, run } = setup();
    const c: ContainerV1 = {
      name: 'web',
      image: 'busybox',
      readinessProbe: { ...ready, failureThreshold: 1 },
    };
    const earlier = new Date(clock.t - 60_000).toISOString();
    const r = run({ startedAt: earlier });
    const reported = {
      ...pod,
      status: {
        containerStatuses: [
          { name: 'web', ready: true, state: { running: { startedAt: earlier.replace(/\.\d{3}Z$/, 'Z') } } },
        ],
      },
    };
    m.update(reported, c, r);
    assert.deepEqual(m.status(c, r), { started: true, ready: true });
    exec.answer = () => ({ outcome: 'failure', message: 'down' });
    await clock.advance(0);
    assert.deepEqual(m.status(c, r), { started: true, ready: false });
    // a run the agent started itself begins not ready whatever the old status said
    const s2 = setup();
    const fresh = s2.run();
    s2.m.update({ ...reported }, c, fresh);
    assert.deepEqual(s2.m.status(c, fresh), { started: true, ready: false });
  });
});
