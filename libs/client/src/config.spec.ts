import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ConfigError,
  DEFAULT_SERVER,
  configPath,
  loadConfig,
  resolveConnection,
  saveConfig,
  upsertContext,
} from './config';

const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('config file', () => {
  test('configPath honours BERTH_CONFIG, else ~/.berth/config', () => {
    assert.equal(configPath({ BERTH_CONFIG: '/x/c' }), '/x/c');
    assert.equal(configPath({ HOME: '/home/u' }), '/home/u/.berth/config');
  });

  test('save then load round-trips and the file is mode 0600', () => {
    const f = path.join(dir, 'sub', 'config');
    saveConfig(
      {
        currentContext: 'a',
        contexts: [{ name: 'a', server: 'http://h:1', token: 's3cret', namespace: 'prod' }],
      },
      f,
    );
    assert.equal(statSync(f).mode & 0o777, 0o600);
    assert.deepEqual(loadConfig(f), {
      currentContext: 'a',
      contexts: [{ name: 'a', server: 'http://h:1', token: 's3cret', namespace: 'prod' }],
    });
  });

  test('a missing file is an empty config; a malformed one names the file and field', () => {
    assert.deepEqual(loadConfig(path.join(dir, 'nope')), { contexts: [] });
    const f = path.join(dir, 'bad');
    writeFileSync(f, 'contexts:\n  - name: a\n');
    assert.throws(
      () => loadConfig(f),
      (e: unknown) => e instanceof ConfigError && /contexts\[0\]\.server is required/.test(e.message),
    );
    writeFileSync(f, 'contexts: [');
    assert.throws(
      () => loadConfig(f),
      (e: unknown) => e instanceof ConfigError && e.message.includes('not valid YAML'),
    );
  });

  test('upsertContext replaces a context in place', () => {
    const cfg = upsertContext(
      {
        contexts: [
          { name: 'a', server: 'http://1' },
          { name: 'b', server: 'http://2' },
        ],
      },
      { name: 'a', server: 'http://3' },
    );
    assert.deepEqual(
      cfg.contexts.map((c) => `${c.name}=${c.server}`),
      ['a=http://3', 'b=http://2'],
    );
  });
});

describe('resolveConnection', () => {
  const tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, 'from-file\n');
  const cfg = {
    currentContext: 'local',
    contexts: [
      { name: 'local', server: 'http://local:1', tokenFile, namespace: 'dev' },
      { name: 'other', server: 'http://other:2', token: 'other-token' },
    ],
  };

  test('the current context gives server, token (from its file) and namespace', () => {
    assert.deepEqual(resolveConnection({}, {}, cfg), {
      server: 'http://local:1',
      token: 'from-file',
      namespace: 'dev',
      context: 'local',
    });
  });

  test('environment overrides the context; flags override the environment', () => {
    const env = { BERTH_SERVER: 'http://env:3', BERTH_TOKEN: 'env-token' };
    assert.deepEqual(resolveConnection({}, env, cfg), {
      server: 'http://env:3',
      token: 'env-token',
      namespace: 'dev',
      context: 'local',
    });
    assert.deepEqual(
      resolveConnection({ server: 'http://flag:4', token: 'flag-token', namespace: 'ns1' }, env, cfg),
      {
        server: 'http://flag:4',
        token: 'flag-token',
        namespace: 'ns1',
        context: 'local',
      },
    );
  });

  test('a context token is not sent to another server given by flag', () => {
    const c = resolveConnection({ server: 'http://elsewhere:9' }, {}, cfg);
    assert.equal(c.token, undefined);
  });

  test('--context picks another context; an unknown one is an error', () => {
    assert.equal(resolveConnection({ context: 'other' }, {}, cfg).token, 'other-token');
    assert.equal(resolveConnection({ context: 'other' }, {}, cfg).namespace, 'default');
    assert.throws(() => resolveConnection({ context: 'nope' }, {}, cfg), ConfigError);
  });

  test('no config at all: the default server and namespace', () => {
    assert.deepEqual(resolveConnection({}, {}, { contexts: [] }), {
      server: DEFAULT_SERVER,
      namespace: 'default',
    });
  });

  test('an unreadable token file is a clear error naming it', () => {
    const bad = {
      currentContext: 'x',
      contexts: [{ name: 'x', server: 'http://x', tokenFile: '/nonexistent/t' }],
    };
    assert.throws(
      () => resolveConnection({}, {}, bad),
      /cannot read the token file \/nonexistent\/t of context "x": ENOENT/,
    );
    assert.equal(readFileSync(tokenFile, 'utf8'), 'from-file\n');
  });

  describe('the CA of an https server', () => {
    const pem = (cn: string) => `-----BEGIN CERTIFICATE-----\n${cn}\n-----END CERTIFICATE-----\n`;
    const ctxCa = path.join(dir, 'ctx-ca.crt');
    const flagCa = path.join(dir, 'flag-ca.crt');
    const envCa = path.join(dir, 'env-ca.crt');
    writeFileSync(ctxCa, pem('CTX'));
    writeFileSync(flagCa, pem('FLAG'));
    writeFileSync(envCa, pem('ENV'));
    const file = path.join(dir, 'ca-config');
    writeFileSync(
      file,
      [
        'currentContext: tls',
        'contexts:',
        '  - name: tls',
        '    server: https://127.0.0.1:6443',
        `    certificateAuthority: ${ctxCa}`,
        '  - name: embedded',
        '    server: https://127.0.0.1:7443',
        `    certificateAuthorityData: ${Buffer.from(pem('DATA')).toString('base64')}`,
      ].join('\n'),
    );
    const tlsCfg = loadConfig(file);

    test('a context names it as a file (certificateAuthority) or holds it as base64 (certificateAuthorityData)', () => {
      assert.equal(tlsCfg.contexts[0].certificateAuthority, ctxCa);
      const c = resolveConnection({}, {}, tlsCfg);
      assert.equal(c.ca, pem('CTX'));
      assert.equal(c.caSource, `${ctxCa} of context "tls"`);
      assert.equal(resolveConnection({ context: 'embedded' }, {}, tlsCfg).ca, pem('DATA'));
    });

    test('--certificate-authority over BERTH_CA_FILE over the context', () => {
      assert.equal(resolveConnection({}, { BERTH_CA_FILE: envCa }, tlsCfg).ca, pem('ENV'));
      assert.equal(
        resolveConnection({ certificateAuthority: flagCa }, { BERTH_CA_FILE: envCa }, tlsCfg).ca,
        pem('FLAG'),
      );
    });

    test("a context's CA is not used for another server given by flag; no CA means the system's", () => {
      assert.equal(resolveConnection({ server: 'https://elsewhere:1' }, {}, tlsCfg).ca, undefined);
      assert.equal(resolveConnection({ server: 'https://127.0.0.1:6443' }, {}, tlsCfg).ca, pem('CTX'));
      assert.equal(resolveConnection({}, {}, cfg).ca, undefined);
    });

    test('a missing CA file or one without a certificate is an error naming it and where it was set', () => {
      assert.throws(
        () => resolveConnection({ certificateAuthority: '/nonexistent/ca.crt' }, {}, tlsCfg),
        /cannot read the CA file \/nonexistent\/ca.crt \(--certificate-authority\): ENOENT/,
      );
      assert.throws(
        () => resolveConnection({}, { BERTH_CA_FILE: tokenFile }, tlsCfg),
        new RegExp(`the CA file ${tokenFile} \\(BERTH_CA_FILE\\) holds no PEM certificate`),
      );
      const bad = path.join(dir, 'bad-ca-data');
      writeFileSync(
        bad,
        'contexts:\n  - name: x\n    server: https://x\n    certificateAuthorityData: bm9wZQ==\n',
      );
      assert.throws(
        () => loadConfig(bad),
        /contexts\[0\]\.certificateAuthorityData must be the base64 of a PEM/,
      );
    });
  });
});
