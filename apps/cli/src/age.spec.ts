import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { age, humanDuration, parseDuration } from './age';

const s = 1000;
const m = 60 * s;
const h = 60 * m;
const d = 24 * h;

describe('humanDuration (kubectl AGE)', () => {
  const cases: [number, string][] = [
    [-5 * s, '<invalid>'],
    [-500, '0s'],
    [0, '0s'],
    [5 * s, '5s'],
    [119 * s, '119s'],
    [2 * m, '2m'],
    [3 * m + 12 * s, '3m12s'],
    [9 * m + 59 * s, '9m59s'],
    [10 * m + 30 * s, '10m'],
    [179 * m, '179m'],
    [3 * h, '3h'],
    [3 * h + 20 * m, '3h20m'],
    [7 * h + 59 * m, '7h59m'],
    [8 * h + 30 * m, '8h'],
    [47 * h, '47h'],
    [2 * d, '2d'],
    [2 * d + 4 * h, '2d4h'],
    [7 * d + 23 * h, '7d23h'],
    [8 * d + 5 * h, '8d'],
    [729 * d, '729d'],
    [730 * d, '2y'],
    [2 * 365 * d + 45 * d, '2y45d'],
    [9 * 365 * d + 100 * d, '9y'],
  ];
  for (const [ms, want] of cases) test(`${ms} ms is ${want}`, () => assert.equal(humanDuration(ms), want));

  test('age of a timestamp; missing or garbage is <unknown>', () => {
    const now = Date.parse('2026-01-01T00:05:00Z');
    assert.equal(age('2026-01-01T00:00:00Z', now), '5m');
    assert.equal(age(undefined, now), '<unknown>');
    assert.equal(age('yesterday', now), '<unknown>');
  });
});

describe('parseDuration (--request-timeout)', () => {
  test('units and bare seconds', () => {
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('30'), 30_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('1h'), 3_600_000);
  });
  test('garbage is an error that shows examples', () => {
    assert.throws(() => parseDuration('soon'), /"soon" is not a duration: use e\.g\. 0, 30s/);
    assert.throws(() => parseDuration('-1s'), /not a duration/);
  });
});
