import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { restartDecision, DEFAULT_BACKOFF, type RestartHistory } from './restart-decision';

const NOW = 1_800_000_000_000;
const ranFor = (ms: number, restartCount: number, crashCount?: number): RestartHistory => ({
  restartCount,
  crashCount,
  lastStartedAt: NOW - ms,
  lastExitAt: NOW,
});

describe('restartDecision', () => {
  test('Never: no restart; exit 0 is Completed, anything else Error', () => {
    assert.deepEqual(restartDecision('Never', 0, ranFor(5, 0), NOW), {
      restart: false,
      delayMs: 0,
      reason: 'Completed',
      crashCount: 0,
    });
    assert.equal(restartDecision('Never', 3, ranFor(5, 0), NOW).reason, 'Error');
    assert.equal(restartDecision('Never', 3, ranFor(5, 0), NOW).restart, false);
  });

  test('OnFailure: exit 0 stays Completed; a failure restarts', () => {
    const ok = restartDecision('OnFailure', 0, ranFor(5, 2), NOW);
    assert.equal(ok.restart, false);
    assert.equal(ok.reason, 'Completed');
    const bad = restartDecision('OnFailure', 1, ranFor(5, 0), NOW);
    assert.equal(bad.restart, true);
  });

  test('Always restarts after exit 0 too', () => {
    assert.equal(restartDecision('Always', 0, ranFor(5, 0), NOW).restart, true);
  });

  test('the first restart is at once, without a reason', () => {
    const d = restartDecision('Always', 1, ranFor(5, 0), NOW);
    assert.deepEqual(d, { restart: true, delayMs: 0, crashCount: 1 });
  });

  test('then 1 s doubling, as CrashLoopBackOff', () => {
    const delays = [1, 2, 3, 4, 5, 6].map((n) => restartDecision('Always', 1, ranFor(5, n), NOW).delayMs);
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 32000]);
    assert.equal(restartDecision('Always', 1, ranFor(5, 1), NOW).reason, 'CrashLoopBackOff');
  });

  test('capped at 60 s, even after very many restarts', () => {
    assert.equal(restartDecision('Always', 1, ranFor(5, 7), NOW).delayMs, 60_000);
    assert.equal(restartDecision('Always', 1, ranFor(5, 10_000), NOW).delayMs, 60_000);
  });

  test('a run of 10 minutes resets the backoff; 1 ms less does not', () => {
    const reset = restartDecision('Always', 1, ranFor(600_000, 9), NOW);
    assert.deepEqual(reset, { restart: true, delayMs: 0, crashCount: 1 });
    assert.equal(restartDecision('Always', 1, ranFor(599_999, 9), NOW).delayMs, 60_000);
  });

  test('after a reset the backoff counts from crashCount, not the total restartCount', () => {
    const d = restartDecision('Always', 1, ranFor(5, 12, 1), NOW);
    assert.equal(d.delayMs, 1000);
    assert.equal(d.crashCount, 2);
  });

  test('crashCount advances one step per restart', () => {
    let h: RestartHistory = { restartCount: 0, lastStartedAt: NOW - 5, lastExitAt: NOW };
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) {
      const d = restartDecision('Always', 2, h, NOW);
      seen.push(d.delayMs);
      h = { ...h, restartCount: h.restartCount + 1, crashCount: d.crashCount };
    }
    assert.deepEqual(seen, [0, 1000, 2000, 4000]);
  });

  test('without lastExitAt the run is measured up to now', () => {
    const d = restartDecision('Always', 1, { restartCount: 3, lastStartedAt: NOW - 700_000 }, NOW);
    assert.equal(d.delayMs, 0);
  });

  test('the configuration is honoured', () => {
    const cfg = { ...DEFAULT_BACKOFF, initialDelayMs: 10, maxDelayMs: 50 };
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => restartDecision('Always', 1, ranFor(5, n), NOW, cfg).delayMs),
      [10, 20, 40, 50],
    );
  });
});
