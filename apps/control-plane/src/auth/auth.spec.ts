import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiError } from '@berth/api';
import type { FastifyRequest } from 'fastify';
import { authenticate } from './auth.hook';
import { bearerToken, isAuthenticated, loadTokens, tokenMatches } from './tokens';

const req = (url: string, authorization?: string) =>
  ({ url, headers: { authorization } }) as unknown as FastifyRequest;

test('the default token file is generated once: 32 random bytes hex, mode 0600', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-auth-'));
  try {
    const [t] = loadTokens(undefined, dir);
    assert.match(t, /^[0-9a-f]{64}$/);
    assert.equal(statSync(path.join(dir, 'admin.token')).mode & 0o777, 0o600);
    assert.deepEqual(loadTokens(undefined, dir), [t]);
    const file = path.join(dir, 'tokens');
    writeFileSync(file, '# comment\n\nalpha\n beta \n');
    assert.deepEqual(loadTokens(file, dir), ['alpha', 'beta']);
    writeFileSync(file, '\n# none\n');
    assert.throws(() => loadTokens(file, dir), /holds no token/);
    assert.throws(() => loadTokens(path.join(dir, 'missing'), dir), /ENOENT/);
    assert.equal(readFileSync(path.join(dir, 'admin.token'), 'utf8').trim(), t);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bearer tokens match exactly', () => {
  assert.equal(bearerToken('Bearer abc'), 'abc');
  assert.equal(bearerToken('bearer abc'), 'abc');
  assert.equal(bearerToken('Basic abc'), undefined);
  assert.equal(bearerToken(undefined), undefined);
  assert.ok(tokenMatches('abc', ['x', 'abc']));
  assert.ok(!tokenMatches('ab', ['abc']));
  assert.ok(!tokenMatches('abcd', ['abc']));
});

test('every path but the probes needs a valid token', () => {
  const unauthorized = (e: unknown) => e instanceof ApiError && e.code === 401;
  for (const p of ['/healthz', '/livez', '/readyz?verbose=1']) authenticate(req(p), ['t']);
  for (const p of ['/api/v1/pods', '/metrics', '/nothing-here', '/healthz/extra']) {
    assert.throws(() => authenticate(req(p), ['t']), unauthorized, p);
    assert.throws(() => authenticate(req(p, 'Bearer wrong'), ['t']), unauthorized, p);
    authenticate(req(p, 'Bearer t'), ['t']);
  }
});

test('a request the hook accepted is marked authenticated for the guard; a refused one is not', () => {
  const withRaw = (authorization?: string) =>
    ({ url: '/api/v1/pods', headers: { authorization }, raw: {} }) as unknown as FastifyRequest;
  const ok = withRaw('Bearer t');
  authenticate(ok, ['t']);
  assert.ok(isAuthenticated(ok));
  const bad = withRaw('Bearer wrong');
  assert.throws(() => authenticate(bad, ['t']));
  assert.ok(!isAuthenticated(bad));
  assert.ok(!isAuthenticated(withRaw('Bearer t')));
});

test('tokenMatches follows a token list that changes in place', () => {
  const tokens = ['a'];
  assert.ok(tokenMatches('a', tokens));
  tokens[0] = 'b';
  assert.ok(!tokenMatches('a', tokens));
  assert.ok(tokenMatches('b', tokens));
});
