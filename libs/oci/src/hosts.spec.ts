import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryHosts, parseDockerConfig, normalizeRegistryHost, pickCredentials } from './hosts';

describe('RegistryHosts', () => {
  test('mirrors come before the origin; docker.io origin is registry-1.docker.io over https', () => {
    const h = new RegistryHosts({
      mirrors: RegistryHosts.parseMirrorFlags(['docker.io=http://127.0.0.1:5000/']),
    });
    assert.deepEqual(h.endpoints('docker.io'), [
      { url: 'http://127.0.0.1:5000', host: '127.0.0.1:5000', mirror: true },
      { url: 'https://registry-1.docker.io', host: 'docker.io', mirror: false },
    ]);
  });
  test('insecure registries use http, others https; loopback is insecure by default', () => {
    const h = new RegistryHosts({ insecure: ['reg.local:5000'] });
    assert.equal(h.endpoints('reg.local:5000')[0].url, 'http://reg.local:5000');
    assert.equal(h.endpoints('quay.io')[0].url, 'https://quay.io');
    assert.equal(h.endpoints('127.0.0.1:5000')[0].url, 'http://127.0.0.1:5000');
    assert.equal(h.endpoints('localhost:5000')[0].url, 'http://localhost:5000');
  });
  test('bad mirror flag names what is expected', () => {
    assert.throws(() => RegistryHosts.parseMirrorFlags(['docker.io']), /expected HOST=URL/);
  });
  test('credentials from a dockerconfigjson, keyed by normalised host', () => {
    const cfg = {
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hub:secret').toString('base64') },
        '127.0.0.1:5000': { auth: Buffer.from('u:p:with:colons').toString('base64') },
        'other.io': { username: 'a', password: 'b' },
      },
    };
    const creds = parseDockerConfig(JSON.stringify(cfg));
    const h = new RegistryHosts({ credentials: creds });
    assert.deepEqual(h.credentials('docker.io'), { username: 'hub', password: 'secret' });
    assert.deepEqual(h.credentials('127.0.0.1:5000'), { username: 'u', password: 'p:with:colons' });
    assert.deepEqual(h.credentials('other.io'), { username: 'a', password: 'b' });
    assert.equal(h.credentials('nope.io'), undefined);
  });
  test('malformed auth entry is named', () => {
    assert.throws(
      () => parseDockerConfig({ auths: { 'x.io': { auth: Buffer.from('nocolon').toString('base64') } } }),
      /auths\["x.io"\]\.auth/,
    );
    assert.throws(() => parseDockerConfig('{'), /not valid JSON/);
  });
  test('normalizeRegistryHost', () => {
    assert.equal(normalizeRegistryHost('https://Registry-1.docker.io/v2/'), 'docker.io');
    assert.equal(normalizeRegistryHost('http://127.0.0.1:5000'), '127.0.0.1:5000');
  });
  test('pickCredentials takes the first pull secret that names the image registry', () => {
    const enc = (u: string, p: string) => Buffer.from(`${u}:${p}`).toString('base64');
    const a = JSON.stringify({ auths: { 'other.io': { auth: enc('o', 'o') } } });
    const b = { auths: { 'https://index.docker.io/v1/': { auth: enc('hub', 'h') } } };
    const c = { auths: { 'reg.local:5000': { auth: enc('r', 'r') } } };
    assert.deepEqual(pickCredentials('busybox', ['{bad', a, b]), { username: 'hub', password: 'h' });
    assert.deepEqual(pickCredentials('reg.local:5000/x/y:1', [a, b, c]), { username: 'r', password: 'r' });
    assert.equal(pickCredentials('quay.io/x', [a, b, c]), undefined);
  });
});
