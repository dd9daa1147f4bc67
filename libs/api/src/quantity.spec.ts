import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatQuantity, isValidQuantity, parseQuantity } from './quantity';
import { ApiError } from './errors';

test('parses CPU quantities to cores', () => {
  assert.equal(parseQuantity('100m'), 0.1);
  assert.equal(parseQuantity('0.5'), 0.5);
  assert.equal(parseQuantity('2'), 2);
  assert.equal(parseQuantity(1.5), 1.5);
  assert.equal(parseQuantity('250000u'), 0.25);
  assert.equal(parseQuantity('500000000n'), 0.5);
});

test('parses memory quantities to bytes (binary and decimal suffixes, exponents)', () => {
  assert.equal(parseQuantity('128Mi'), 128 * 1024 * 1024);
  assert.equal(parseQuantity('1Gi'), 2 ** 30);
  assert.equal(parseQuantity('1G'), 1e9);
  assert.equal(parseQuantity('1k'), 1000);
  assert.equal(parseQuantity('1Ki'), 1024);
  assert.equal(parseQuantity('1e3'), 1000);
  assert.equal(parseQuantity('1E3'), 1000);
  assert.equal(parseQuantity('1E'), 1e18);
  assert.equal(parseQuantity('1.5Gi'), 1.5 * 2 ** 30);
  assert.equal(parseQuantity('.5'), 0.5);
  assert.equal(parseQuantity('+1'), 1);
});

test('rejects what is not a quantity', () => {
  for (const bad of ['12xyz', '', ' 1', '1 ', 'Mi', '1mi', '1.2.3', '--1', '1e', '1Mi2', 'abc']) {
    assert.equal(isValidQuantity(bad), false, bad);
    assert.throws(
      () => parseQuantity(bad),
      (e: unknown) => e instanceof ApiError && e.reason === 'BadRequest',
    );
  }
});

test('negative quantities parse but are not valid resource amounts', () => {
  assert.equal(parseQuantity('-1'), -1);
  assert.equal(isValidQuantity('-1'), false);
  assert.equal(isValidQuantity('-1', { allowNegative: true }), true);
  assert.equal(isValidQuantity('0'), true);
  assert.equal(isValidQuantity(undefined), false);
  assert.equal(isValidQuantity({}), false);
});

test('formats canonical quantities', () => {
  assert.equal(formatQuantity(0.1), '100m');
  assert.equal(formatQuantity(2), '2');
  assert.equal(formatQuantity(2000), '2k');
  assert.equal(formatQuantity(1500), '1500');
  assert.equal(formatQuantity(0), '0');
  assert.equal(formatQuantity(128 * 2 ** 20, 'BinarySI'), '128Mi');
  assert.equal(formatQuantity(1000, 'BinarySI'), '1000');
  assert.equal(formatQuantity(0.25, 'BinarySI'), '250m');
  for (const q of ['100m', '2', '128Mi', '1G', '3Ti']) {
    const v = parseQuantity(q);
    assert.equal(parseQuantity(formatQuantity(v, q.endsWith('i') ? 'BinarySI' : 'DecimalSI')), v, q);
  }
});
