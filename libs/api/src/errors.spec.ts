import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, reasonForCode } from './errors';

test('HTTP codes map back to the generic Status reason', () => {
  assert.equal(reasonForCode(409), 'Conflict');
  assert.equal(reasonForCode(410), 'Gone');
  assert.equal(reasonForCode(422), 'Invalid');
  assert.equal(reasonForCode(503), 'ServiceUnavailable');
  assert.equal(reasonForCode(418), undefined);
});

test('ApiError carries the code of its reason into the Status', () => {
  const s = ApiError.conflict('Pod', 'web', 'the object has been modified').toStatus();
  assert.equal(s.code, 409);
  assert.equal(s.reason, 'Conflict');
  assert.match(s.message, /pods "web"/);
});
