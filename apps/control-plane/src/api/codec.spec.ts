import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '@berth/api';
import { MAX_DEPTH, decodeObjectBody, parseYamlOrJson, patchTypeOf } from './codec';

function fails(fn: () => unknown, code: number, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof ApiError && e.code === code && (!re || re.test(e.message)));
}

test('object bodies: JSON by default, YAML when the Content-Type says so', () => {
  assert.deepEqual(decodeObjectBody(Buffer.from('{"a":1}'), 'application/json; charset=utf-8'), { a: 1 });
  assert.deepEqual(decodeObjectBody(Buffer.from('{"a":1}'), undefined), { a: 1 });
  assert.deepEqual(decodeObjectBody(Buffer.from('a: 1\n'), 'application/yaml'), { a: 1 });
});

test('bad bodies are 400 with a message, wrong media types 415', () => {
  fails(() => decodeObjectBody(Buffer.from('{"a":'), 'application/json'), 400, /not valid JSON/);
  fails(() => decodeObjectBody(Buffer.from([0xff, 0xfe, 0x00, 0x01]), 'application/json'), 400);
  fails(() => decodeObjectBody(Buffer.from('[1,2]'), 'application/json'), 400, /must be a JSON object/);
  fails(() => decodeObjectBody(Buffer.from('null'), 'application/json'), 400);
  fails(() => decodeObjectBody(undefined, 'application/json'), 400, /empty/);
  fails(() => decodeObjectBody(Buffer.from('{}'), 'text/html'), 415);
  fails(() => decodeObjectBody(Buffer.from('{"__proto__":{"x":1}}'), 'application/json'), 400, /__proto__/);
});

test('deeply nested documents are refused without recursion', () => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  fails(
    () => decodeObjectBody(Buffer.from(`{"a":${deep}}`), 'application/json'),
    400,
    new RegExp(`${MAX_DEPTH} levels`),
  );
});

test('apply bodies: YAML or JSON, exactly one document, alias bombs refused', () => {
  assert.deepEqual(parseYamlOrJson(Buffer.from('kind: ConfigMap\nmetadata:\n  name: x\n')), {
    kind: 'ConfigMap',
    metadata: { name: 'x' },
  });
  assert.deepEqual(parseYamlOrJson(Buffer.from('{"kind":"ConfigMap"}')), { kind: 'ConfigMap' });
  fails(() => parseYamlOrJson(Buffer.from('a: 1\n---\nb: 2\n')), 400, /exactly one/);
  fails(() => parseYamlOrJson(Buffer.from('a: [1\n')), 400, /YAML/);
  let bomb = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 12; i++)
    bomb += `a${i}: &a${i} [${Array(10)
      .fill(`*a${i - 1}`)
      .join(', ')}]\n`;
  fails(() => parseYamlOrJson(Buffer.from(bomb)), 400);
});

test('patch types by Content-Type; anything else 415', () => {
  assert.equal(patchTypeOf('application/merge-patch+json'), 'merge');
  assert.equal(patchTypeOf('application/json-patch+json'), 'json');
  assert.equal(patchTypeOf('application/strategic-merge-patch+json'), 'strategic');
  assert.equal(patchTypeOf('application/apply-patch+yaml; charset=utf-8'), 'apply');
  fails(() => patchTypeOf('application/json'), 415, /merge-patch/);
  fails(() => patchTypeOf(undefined), 415);
});
