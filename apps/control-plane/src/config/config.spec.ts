import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlagError, parseFlags } from './config';

test('defaults: /var/lib/berth, port 6443, 127.0.0.1, embedded redis, json logs off a TTY', () => {
  const c = parseFlags([], {});
  assert.equal(c.dataDir, '/var/lib/berth');
  assert.equal(c.port, 6443);
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.redisUrl, undefined);
  assert.equal(c.logFormat, 'json');
  assert.equal(parseFlags([], {}, true).logFormat, 'pretty');
});

test('flags in both --flag value and --flag=value forms', () => {
  const c = parseFlags(
    ['--data-dir', '/tmp/x', '--port=0', '--redis-url', 'redis://127.0.0.1:1234', '--log-format=pretty'],
    {
      BERTH_BOOKMARK_INTERVAL_MS: '250',
    },
  );
  assert.equal(c.dataDir, '/tmp/x');
  assert.equal(c.port, 0);
  assert.equal(c.redisUrl, 'redis://127.0.0.1:1234');
  assert.equal(c.logFormat, 'pretty');
  assert.equal(c.bookmarkIntervalMs, 250);
});

test('a bad value fails with one line naming the flag', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--port', '70000'], /^flag --port: 70000 must not be greater than 65535$/],
    [['--port', 'abc'], /^flag --port: "abc" is not a whole number$/],
    [['--log-format', 'xml'], /^flag --log-format: "xml" must be one of the following values: json, pretty$/],
    [['--redis-url', 'localhost:6379'], /^flag --redis-url: .*redis:\/\//],
    [['--bogus'], /unknown flag "--bogus"/],
    [['--port'], /flag --port needs a value/],
  ];
  for (const [argv, re] of cases) {
    assert.throws(
      () => parseFlags(argv, {}),
      (e: unknown) => e instanceof FlagError && re.test(e.message) && !e.message.includes('\n'),
      argv.join(' '),
    );
  }
});

test('TLS flags: plain HTTP by default; --tls alone, before another flag, or with auto; given files in pairs', () => {
  assert.equal(parseFlags([], {}).tls, 'off');
  assert.equal(parseFlags(['--tls'], {}).tls, 'auto');
  assert.equal(parseFlags(['--tls', '--port', '1'], {}).tls, 'auto');
  assert.equal(parseFlags(['--tls', 'auto'], {}).tls, 'auto');
  assert.equal(parseFlags(['--tls=off'], {}).tls, 'off');
  const files = parseFlags(['--tls-cert-file', '/c.crt', '--tls-private-key-file=/k.key'], {});
  assert.deepEqual([files.tlsCertFile, files.tlsPrivateKeyFile], ['/c.crt', '/k.key']);
  const cases: Array<[string[], RegExp]> = [
    [['--tls', 'yes'], /^flag --tls: "yes" must be one of the following values: off, auto$/],
    [['--tls-cert-file', '/c.crt'], /^flags --tls-cert-file and --tls-private-key-file go together/],
    [['--tls-private-key-file', '/k.key'], /^flags --tls-cert-file and --tls-private-key-file go together/],
    [
      ['--tls', 'off', '--tls-cert-file', '/c', '--tls-private-key-file', '/k'],
      /^flag --tls off contradicts --tls-cert-file/,
    ],
  ];
  for (const [argv, re] of cases) {
    assert.throws(
      () => parseFlags(argv, {}),
      (e: unknown) => e instanceof FlagError && re.test(e.message),
      argv.join(' '),
    );
  }
});
