import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { containerReadiness, probeSettings, ProbeState, type Outcome } from './probe-state';

const feed = (s: ProbeState, outcomes: Outcome[]) => outcomes.map((o) => s.record(o));

describe('probe state (kubelet worker semantics)', () => {
  test('defaults: period 10 s, timeout 1 s, success 1, failure 3, no initial delay', () => {
    assert.deepEqual(probeSettings({}), {
      initialDelayMs: 0,
      periodMs: 10_000,
      timeoutMs: 1000,
      successThreshold: 1,
      failureThreshold: 3,
    });
    assert.deepEqual(
      probeSettings({ initialDelaySeconds: 5, periodSeconds: 2, timeoutSeconds: 3, failureThreshold: 1 }),
      { initialDelayMs: 5000, periodMs: 2000, timeoutMs: 3000, successThreshold: 1, failureThreshold: 1 },
    );
  });

  test('liveness asks for a restart only after failureThreshold failures in a row, then holds', () => {
    const s = new ProbeState('liveness', probeSettings({ failureThreshold: 3 }));
    assert.equal(s.result, 'success');
    const d = feed(s, ['failure', 'failure', 'success', 'failure', 'failure']);
    assert.ok(
      d.every((x) => !x.restart),
      'a success in between resets the count',
    );
    const third = s.record('failure');
    assert.deepEqual(third, { changed: true, restart: true });
    assert.equal(s.result, 'failure');
    assert.equal(s.held, true);
    assert.equal(s.shouldProbe(0, 1_000_000, true), false, 'no probing after the restart decision');
    assert.deepEqual(s.record('failure'), { changed: false, restart: false }, 'one restart per run');
  });

  test('readiness starts not ready, becomes ready after successThreshold successes and unready after failureThreshold failures, never restarts', () => {
    const s = new ProbeState('readiness', probeSettings({ successThreshold: 2, failureThreshold: 2 }));
    assert.equal(s.result, 'failure');
    assert.deepEqual(s.record('success'), { changed: false, restart: false });
    assert.deepEqual(s.record('success'), { changed: true, restart: false });
    assert.equal(s.result, 'success');
    assert.deepEqual(s.record('failure'), { changed: false, restart: false });
    assert.deepEqual(s.record('failure'), { changed: true, restart: false });
    assert.equal(s.result, 'failure');
    assert.deepEqual(s.record('failure'), { changed: false, restart: false });
    assert.equal(s.held, false);
    assert.equal(s.shouldProbe(0, 0, true), true, 'readiness keeps probing');
  });

  test('no probe before initialDelay; liveness and readiness wait for the startup probe', () => {
    const s = new ProbeState('readiness', probeSettings({ initialDelaySeconds: 5 }));
    assert.equal(s.shouldProbe(1000, 5999, true), false);
    assert.equal(s.shouldProbe(1000, 6000, true), true);
    assert.equal(s.shouldProbe(1000, 6000, false), false, 'not started yet');
  });

  test('startup: unknown until it succeeds, then stops probing; failing it asks for a restart', () => {
    const s = new ProbeState('startup', probeSettings({ failureThreshold: 2 }));
    assert.equal(s.result, 'unknown');
    assert.equal(s.shouldProbe(0, 0, false), true);
    assert.deepEqual(s.record('success'), { changed: true, restart: false });
    assert.equal(s.shouldProbe(0, 10_000, true), false);

    const f = new ProbeState('startup', probeSettings({ failureThreshold: 2 }));
    assert.deepEqual(f.record('failure'), { changed: false, restart: false });
    assert.deepEqual(f.record('failure'), { changed: true, restart: true });
  });

  test('started and ready of a running container from its probe results', () => {
    assert.deepEqual(containerReadiness({}), { started: true, ready: true });
    assert.deepEqual(containerReadiness({ readiness: 'failure' }), { started: true, ready: false });
    assert.deepEqual(containerReadiness({ readiness: 'success' }), { started: true, ready: true });
    assert.deepEqual(containerReadiness({ startup: 'unknown' }), { started: false, ready: false });
    assert.deepEqual(containerReadiness({ startup: 'success', readiness: 'failure' }), {
      started: true,
      ready: false,
    });
  });
});
