import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CHANNEL,
  EXEC_PROTOCOLS,
  decodeFrame,
  encodeFrame,
  encodeResize,
  execQuery,
  negotiateProtocol,
  outcomePayload,
  parseExecQuery,
  parseOutcome,
  parseResize,
  protocolFeatures,
} from './remote-command';

const v5 = protocolFeatures(EXEC_PROTOCOLS.v5)!;
const v4 = protocolFeatures(EXEC_PROTOCOLS.v4)!;
const v3 = protocolFeatures(EXEC_PROTOCOLS.v3)!;

test('the newest offered protocol is chosen; base64 and unknown ones are not served', () => {
  assert.equal(negotiateProtocol(['v4.channel.k8s.io', ' v5.channel.k8s.io']), EXEC_PROTOCOLS.v5);
  assert.equal(negotiateProtocol(['channel.k8s.io', 'v4.channel.k8s.io']), EXEC_PROTOCOLS.v4);
  assert.equal(negotiateProtocol(['base64.channel.k8s.io', 'SPDY/3.1']), undefined);
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((n) => {
      const f = protocolFeatures(n === 1 ? 'channel.k8s.io' : `v${n}.channel.k8s.io`)!;
      return [f.version, f.resize, f.statusErrors, f.close];
    }),
    [
      [1, false, false, false],
      [2, false, false, false],
      [3, true, false, false],
      [4, true, true, false],
      [5, true, true, true],
    ],
  );
});

test('a frame is the channel byte then the bytes, both ways', () => {
  const f = encodeFrame(CHANNEL.stdout, Buffer.from([0, 255, 10]));
  assert.deepEqual([...f], [1, 0, 255, 10]);
  assert.deepEqual(decodeFrame(f, v5), { type: 'data', channel: 1, data: Buffer.from([0, 255, 10]) });
  assert.deepEqual(decodeFrame(encodeFrame(CHANNEL.stdin), v5), {
    type: 'data',
    channel: 0,
    data: Buffer.alloc(0),
  });
  assert.deepEqual(decodeFrame(Buffer.alloc(0), v5), { type: 'empty' });
});

test('[255, 0] closes stdin in v5 only; a close with a bad length is refused', () => {
  assert.deepEqual(decodeFrame(Buffer.from([255, 0]), v5), { type: 'close', channel: 0 });
  assert.deepEqual(decodeFrame(Buffer.from([255, 0]), v4), {
    type: 'data',
    channel: 255,
    data: Buffer.from([0]),
  });
  assert.throws(() => decodeFrame(Buffer.from([255, 0, 1]), v5), /one channel byte/);
});

test('resize messages carry {"Width","Height"} as JSON', () => {
  assert.deepEqual(parseResize('{"Width":120,"Height":40}'), { width: 120, height: 40 });
  assert.deepEqual(
    [...encodeResize({ width: 80, height: 24 })],
    [4, ...Buffer.from('{"Width":80,"Height":24}')],
  );
  assert.throws(() => parseResize('{"Width":-1,"Height":2}'), /resize message/);
  assert.throws(() => parseResize('nope'));
});

test('v4+ report the exit on the error channel as a Status kubectl turns into its exit code', () => {
  const ok = outcomePayload({ exitCode: 0 }, ['true'], v5);
  assert.deepEqual(JSON.parse(ok), { metadata: {}, status: 'Success' });
  const three = JSON.parse(outcomePayload({ exitCode: 3 }, ['sh', '-c', 'exit 3'], v4));
  assert.equal(three.status, 'Failure');
  assert.equal(three.reason, 'NonZeroExitCode');
  assert.deepEqual(three.details.causes, [{ reason: 'ExitCode', message: '3' }]);
  assert.match(three.message, /\[sh -c exit 3\], exit code 3/);
  assert.deepEqual(parseOutcome(JSON.stringify(three), v4), { exitCode: 3 });
  assert.deepEqual(parseOutcome(ok, v5), { exitCode: 0 });
  const err = outcomePayload({ error: 'no such container' }, ['x'], v5);
  assert.deepEqual(parseOutcome(err, v5), { error: 'no such container' });
});

test('v1–v3 report a failure as text and success as nothing', () => {
  assert.equal(outcomePayload({ exitCode: 0 }, ['true'], v3), '');
  assert.match(outcomePayload({ exitCode: 2 }, ['false'], v3), /non-zero exit code/);
  assert.deepEqual(parseOutcome('', v3), { exitCode: 0 });
  assert.deepEqual(parseOutcome('boom', v3), { error: 'boom' });
});

test('the exec query: repeated command, boolean streams, at least one stream, TTY drops stderr', () => {
  const q = new URLSearchParams('command=sh&command=-c&command=echo%20hi&container=c&stdout=true&stderr=1');
  assert.deepEqual(parseExecQuery(q), {
    command: ['sh', '-c', 'echo hi'],
    container: 'c',
    stdin: false,
    stdout: true,
    stderr: true,
    tty: false,
  });
  assert.throws(() => parseExecQuery(new URLSearchParams('stdout=true')), /at least 1 command/);
  assert.throws(
    () => parseExecQuery(new URLSearchParams('command=ls')),
    /at least 1 of stdin, stdout, stderr/,
  );
  assert.throws(
    () => parseExecQuery(new URLSearchParams('command=ls&stdout=yes')),
    /stdout must be true or false/,
  );
  assert.equal(parseExecQuery(new URLSearchParams('command=sh&stdout=1&stderr=1&tty=1')).stderr, false);
  assert.equal(
    execQuery({ command: ['ls', '-l'], stdin: true, stdout: true, stderr: false, tty: false }).toString(),
    'command=ls&command=-l&stdin=true&stdout=true',
  );
});
