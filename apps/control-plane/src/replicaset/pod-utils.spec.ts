import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isPodActive, isPodAvailable, isPodReady, podAvailableAt, type PodLike } from './pod-utils';

const T0 = '2026-01-01T00:00:00Z';
const t0 = Date.parse(T0);

function pod(opts: {
  phase?: string;
  ready?: 'True' | 'False';
  since?: string;
  deleting?: boolean;
}): PodLike {
  return {
    metadata: opts.deleting ? { deletionTimestamp: T0 } : {},
    status: {
      phase: opts.phase,
      conditions:
        opts.ready === undefined
          ? []
          : [
              {
                type: 'Ready',
                status: opts.ready,
                ...(opts.since ? { lastTransitionTime: opts.since } : {}),
              },
            ],
    },
  };
}

describe('isPodActive', () => {
  test('pending, running and unknown pods are active', () => {
    assert.equal(isPodActive(pod({ phase: 'Pending' })), true);
    assert.equal(isPodActive(pod({ phase: 'Running' })), true);
    assert.equal(isPodActive(pod({ phase: 'Unknown' })), true);
    assert.equal(isPodActive({ metadata: {} }), true);
  });
  test('succeeded, failed and deleting pods are not', () => {
    assert.equal(isPodActive(pod({ phase: 'Succeeded' })), false);
    assert.equal(isPodActive(pod({ phase: 'Failed' })), false);
    assert.equal(isPodActive(pod({ phase: 'Running', deleting: true })), false);
  });
});

describe('isPodReady', () => {
  test('true only with a Ready condition whose status is True', () => {
    assert.equal(isPodReady(pod({ ready: 'True' })), true);
    assert.equal(isPodReady(pod({ ready: 'False' })), false);
    assert.equal(isPodReady(pod({})), false);
    assert.equal(isPodReady({ metadata: {} }), false);
  });
});

describe('isPodAvailable / podAvailableAt', () => {
  test('with minReadySeconds 0 a ready pod is available at once', () => {
    assert.equal(isPodAvailable(pod({ ready: 'True', since: T0 }), 0, t0), true);
    assert.equal(isPodAvailable(pod({ ready: 'True' }), 0, t0), true);
    assert.equal(podAvailableAt(pod({ ready: 'True', since: T0 }), 0), t0);
  });
  test('a pod not ready is never available', () => {
    assert.equal(isPodAvailable(pod({ ready: 'False', since: T0 }), 0, t0 + 1e9), false);
    assert.equal(podAvailableAt(pod({ ready: 'False', since: T0 }), 5), undefined);
  });
  test('available once lastTransitionTime + minReadySeconds <= now', () => {
    const p = pod({ ready: 'True', since: T0 });
    assert.equal(isPodAvailable(p, 10, t0 + 9_999), false);
    assert.equal(isPodAvailable(p, 10, t0 + 10_000), true);
    assert.equal(isPodAvailable(p, 10, new Date(t0 + 20_000)), true);
    assert.equal(podAvailableAt(p, 10), t0 + 10_000);
  });
  test('with minReadySeconds > 0 and no transition time the pod does not become available', () => {
    assert.equal(podAvailableAt(pod({ ready: 'True' }), 10), undefined);
    assert.equal(isPodAvailable(pod({ ready: 'True' }), 10, t0 + 1e9), false);
  });
});
