import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FlagError, parseAgentFlags, parseDuration } from './config';

const base = ['--server', 'http://127.0.0.1:6443', '--token', 't0k'];

describe('agent flags', () => {
  test('defaults: node name from the host name, data dir, listen, Berth backoff', () => {
    const c = parseAgentFlags(base);
    assert.equal(c.dataDir, '/var/lib/berth/agent');
    assert.equal(c.listen, '0.0.0.0:10250');
    assert.equal(c.runtime, 'runc');
    assert.equal(c.restartInitialDelayMs, 1000);
    assert.equal(c.restartMaxDelayMs, 60_000);
    assert.equal(c.restartResetAfterMs, 600_000);
    assert.equal(
      c.nodeName,
      os
        .hostname()
        .toLowerCase()
        .replace(/[^a-z0-9.-]/g, '-'),
    );
    assert.equal(c.token, 't0k');
  });

  test('repeatable mirrors and insecure registries, durations, --flag=value', () => {
    const c = parseAgentFlags([
      ...base,
      '--registry-mirror',
      'docker.io=http://127.0.0.1:5000',
      '--registry-mirror=docker.io=http://127.0.0.1:5001/',
      '--registry-mirror',
      'quay.io=https://m.example',
      '--insecure-registry',
      'reg.local:5000',
      '--insecure-registry',
      'other',
      '--restart-initial-delay',
      '200ms',
      '--restart-max-delay=2s',
      '--restart-reset-after',
      '1m',
    ]);
    assert.deepEqual(c.registryMirrors, {
      'docker.io': ['http://127.0.0.1:5000', 'http://127.0.0.1:5001'],
      'quay.io': ['https://m.example'],
    });
    assert.deepEqual(c.insecureRegistries, ['reg.local:5000', 'other']);
    assert.equal(c.restartInitialDelayMs, 200);
    assert.equal(c.restartMaxDelayMs, 2000);
    assert.equal(c.restartResetAfterMs, 60_000);
    assert.equal(parseAgentFlags([...base, '--image-gc-threshold', '1Gi']).imageGcThresholdBytes, 1024 ** 3);
  });

  test('bad values fail with one line naming the flag', () => {
    const cases: [string[], RegExp][] = [
      [['--token', 'x'], /^--server: required/],
      [['--server', 'ftp://x', '--token', 'x'], /^--server: must be an http/],
      [[...base, '--node-name', 'Bad_Name'], /^--node-name: must be a lower-case DNS-1123/],
      [[...base, '--data-dir', 'rel/dir'], /^--data-dir: must be an absolute path/],
      [[...base, '--registry-mirror', 'docker.io'], /^--registry-mirror: must be REGISTRY=URL/],
      [[...base, '--insecure-registry', 'a b'], /^--insecure-registry: must be HOST or HOST:PORT/],
      [[...base, '--runtime', 'kata'], /^--runtime: must be runc or crun/],
      [[...base, '--listen', '10250'], /^--listen: must be HOST:PORT/],
      [[...base, '--restart-max-delay', '10'], /^--restart-max-delay: must be a duration/],
      [[...base, '--bogus', '1'], /^unknown flag "--bogus"/],
      [['--server', 'http://x:1'], /^--token-file or --token: required/],
      [[...base, '--data-dir'], /^--data-dir: needs a value/],
      [[...base, '--image-gc-threshold', 'lots'], /^--image-gc-threshold: must be a size/],
      [
        [...base, '--ca-file', '/nonexistent/ca.crt'],
        /^--ca-file: cannot read \/nonexistent\/ca.crt: ENOENT/,
      ],
      [[...base, '--ca-file', '/etc/hostname'], /^--ca-file: \/etc\/hostname holds no PEM certificate/],
    ];
    for (const [argv, re] of cases) {
      assert.throws(
        () => parseAgentFlags(argv),
        (e: unknown) => e instanceof FlagError && re.test(e.message) && !e.message.includes('\n'),
        argv.join(' '),
      );
    }
  });

  test('a YAML config file gives the same settings; flags win; unknown keys are named', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-cfg-'));
    try {
      const tokenFile = path.join(dir, 'token');
      writeFileSync(tokenFile, '# comment\nsecret-token\n');
      const file = path.join(dir, 'agent.yaml');
      writeFileSync(
        file,
        [
          'server: http://127.0.0.1:7000',
          `tokenFile: ${tokenFile}`,
          'nodeName: from-file',
          'registryMirrors:',
          '  docker.io: [http://127.0.0.1:5000]',
          'insecureRegistries: [reg.local:5000]',
          'restartInitialDelay: 2s',
        ].join('\n'),
      );
      const c = parseAgentFlags(['--config', file, '--node-name', 'from-flag']);
      assert.equal(c.server, 'http://127.0.0.1:7000');
      assert.equal(c.token, 'secret-token');
      assert.equal(c.nodeName, 'from-flag');
      assert.deepEqual(c.registryMirrors, { 'docker.io': ['http://127.0.0.1:5000'] });
      assert.deepEqual(c.insecureRegistries, ['reg.local:5000']);
      assert.equal(c.restartInitialDelayMs, 2000);
      writeFileSync(file, 'server: http://x:1\nnodename: x\n');
      assert.throws(() => parseAgentFlags(['--config', file, '--token', 'x']), /unknown setting "nodename"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('parseDuration', () => {
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('10'), undefined);
  });

  test('--status-report-interval: a duration of at least 1s, unset by default', () => {
    assert.equal(parseAgentFlags(base).statusReportIntervalMs, undefined);
    assert.equal(
      parseAgentFlags([...base, '--status-report-interval', '2m']).statusReportIntervalMs,
      120_000,
    );
    assert.throws(
      () => parseAgentFlags([...base, '--status-report-interval', '10ms']),
      (e: Error) => e instanceof FlagError && /--status-report-interval/.test(e.message),
    );
  });
});
