import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { httpOutcome, httpRequest, LinuxProbeExecutor, parseHttpStatus, resolvePort } from './probe-executor';

describe('probe executor helpers', () => {
  test('ports: numbers, numeric strings and the container’s named ports; an unknown name says so', () => {
    const ports = [{ name: 'http', containerPort: 8080 }];
    assert.deepEqual(resolvePort(80, ports), { port: 80 });
    assert.deepEqual(resolvePort('81', ports), { port: 81 });
    assert.deepEqual(resolvePort('http', ports), { port: 8080 });
    assert.deepEqual(resolvePort('metrics', ports), {
      error: 'port "metrics" is not a named port of the container',
    });
  });

  test('the HTTP request: path, Host, kube-probe User-Agent, custom headers override, Connection: close', () => {
    const r = httpRequest(
      {
        port: 80,
        path: 'healthz',
        httpHeaders: [
          { name: 'X-Probe', value: '1' },
          { name: 'host', value: 'web.local' },
        ],
      },
      '127.0.0.1',
      80,
    );
    assert.ok('request' in r);
    assert.equal(
      r.request,
      'GET /healthz HTTP/1.1\r\nhost: web.local\r\nUser-Agent: kube-probe/berth\r\nAccept: */*\r\nX-Probe: 1\r\nConnection: close\r\n\r\n',
    );
    assert.deepEqual(httpRequest({ port: 80 }, '127.0.0.1', 80), {
      request:
        'GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\nUser-Agent: kube-probe/berth\r\nAccept: */*\r\nConnection: close\r\n\r\n',
    });
    assert.ok(
      'error' in httpRequest({ port: 80, httpHeaders: [{ name: 'X', value: 'a\r\nEvil: 1' }] }, 'h', 80),
    );
    assert.ok('error' in httpRequest({ port: 80, path: '/a b' }, 'h', 80));
  });

  test('status line parsing and the 200..399 success range', () => {
    assert.equal(parseHttpStatus('HTTP/1.1 204 No Content\r\n'), 204);
    assert.equal(parseHttpStatus('HTTP/1.0 404 Not Found\r\n'), 404);
    assert.equal(parseHttpStatus('SSH-2.0-OpenSSH\r\n'), undefined);
    assert.equal(httpOutcome(200).outcome, 'success');
    assert.equal(httpOutcome(302).outcome, 'success');
    assert.deepEqual(httpOutcome(500), {
      outcome: 'failure',
      message: 'HTTP probe failed with statuscode: 500',
    });
    assert.equal(httpOutcome(199).outcome, 'failure');
  });

  test('connections run inside the container’s network namespace unless the pod uses the host’s or the probe names a host', () => {
    const x = new LinuxProbeExecutor({ runtimeBinary: '/usr/sbin/runc', runtimeRoot: '/r' });
    const t = { id: 'c', pid: 77, hostNetwork: false, ports: [] };
    assert.deepEqual(x.netCommand(t, undefined, ['-w', '1', '127.0.0.1', '80']), [
      '/usr/bin/nsenter',
      ['--net=/proc/77/ns/net', '/bin/busybox', 'nc', '-w', '1', '127.0.0.1', '80'],
    ]);
    assert.deepEqual(x.netCommand({ ...t, hostNetwork: true }, undefined, ['a']), [
      '/bin/busybox',
      ['nc', 'a'],
    ]);
    assert.deepEqual(x.netCommand(t, '10.0.0.1', ['a']), ['/bin/busybox', ['nc', 'a']]);
  });

  test('an HTTPS probe without openssl and a helper that cannot start fail with a message instead of throwing', async () => {
    const x = new LinuxProbeExecutor({
      runtimeBinary: '/nonexistent/runc',
      runtimeRoot: '/r',
      openssl: '/nonexistent/openssl',
    });
    const t = { id: 'c', pid: 77, hostNetwork: false, ports: [] };
    const https = await x.run({ httpGet: { port: 443, scheme: 'HTTPS' } }, t, 1000);
    assert.equal(https.outcome, 'failure');
    assert.match(https.message, /HTTPS probes need \/nonexistent\/openssl on the node/);
    const exec = await x.run({ exec: { command: ['true'] } }, t, 1000);
    assert.equal(exec.outcome, 'failure');
    assert.match(exec.message, /cannot run \/nonexistent\/runc/);
  });
});
