import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validate, type KubeObject, type PodStatusV1 } from '@berth/api';
import { FlagError } from '../config/config';
import { parseHollowFlags } from './hollow-flags';
import {
  buildHollowLease,
  buildHollowNode,
  buildHollowPodStatus,
  hollowNodeName,
  microTime,
  needsHollowStatus,
  DEFAULT_HOLLOW_CAPACITY,
} from './hollow-status';

const ours = (n: string): boolean => n.startsWith('hollow-');

function pod(over: Partial<KubeObject> = {}, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-1', namespace: 'default', uid: 'u-1', resourceVersion: '7' },
    spec: {
      nodeName: 'hollow-01',
      containers: [
        { name: 'app', image: 'registry.local/web:1' },
        { name: 'side', image: 'busybox:1.36' },
      ],
      ...spec,
    },
    ...over,
  };
}

describe('hollow status building', () => {
  test('names are prefix + zero-padded index to the width of the largest', () => {
    assert.equal(hollowNodeName('hollow-', 7, 1000), 'hollow-007');
    assert.equal(hollowNodeName('hollow-', 999, 1000), 'hollow-999');
    assert.equal(hollowNodeName('h-', 0, 1), 'h-0');
  });

  test('microTime has six fractional digits and the right instant', () => {
    const micros = Date.UTC(2026, 10, 27, 23, 40, 1, 123) * 1000 + 456;
    assert.equal(microTime(micros), '2026-11-27T23:40:01.123456Z');
    assert.match(microTime(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  test('the Node is Ready with the capacity as allocatable, hollow label and hostname label, and validates', () => {
    const n = buildHollowNode('hollow-01', 1, DEFAULT_HOLLOW_CAPACITY, new Date('2026-11-27T23:00:00Z'));
    assert.deepEqual(n.status.capacity, { cpu: '32', memory: '256Gi', pods: '110' });
    assert.deepEqual(n.status.allocatable, n.status.capacity);
    assert.equal(n.metadata.labels?.['berth.dev/hollow'], 'true');
    assert.equal(n.metadata.labels?.['kubernetes.io/hostname'], 'hollow-01');
    assert.deepEqual(
      n.status.conditions.map((c: { type: string; status: string }) => [c.type, c.status]),
      [['Ready', 'True']],
    );
    assert.deepEqual(validate(n), []);
  });

  test('node addresses differ between nodes', () => {
    const a = buildHollowNode('hollow-1', 1, DEFAULT_HOLLOW_CAPACITY, new Date());
    const b = buildHollowNode('hollow-2', 257, DEFAULT_HOLLOW_CAPACITY, new Date());
    assert.notEqual(a.status.addresses[0].address, b.status.addresses[0].address);
  });

  test('the Lease lives in kube-node-lease, is held by the node for 40 s and validates', () => {
    const l = buildHollowLease('hollow-01', '2026-11-27T23:40:01.123456Z');
    assert.equal(l.metadata.namespace, 'kube-node-lease');
    assert.equal(l.metadata.name, 'hollow-01');
    assert.deepEqual(l.spec, {
      holderIdentity: 'hollow-01',
      leaseDurationSeconds: 40,
      renewTime: '2026-11-27T23:40:01.123456Z',
    });
    assert.deepEqual(validate(l), []);
  });

  test('a bound pod becomes Running with every container running, ready and a hollow container ID', () => {
    const now = new Date('2026-11-27T23:40:00Z');
    const s = buildHollowPodStatus(pod(), now);
    assert.equal(s.phase, 'Running');
    assert.equal(s.startTime, '2026-11-27T23:40:00Z');
    assert.equal(s.podIP, undefined);
    assert.deepEqual(
      s.conditions?.map((c) => [c.type, c.status]),
      [
        ['PodScheduled', 'True'],
        ['Initialized', 'True'],
        ['ContainersReady', 'True'],
        ['Ready', 'True'],
      ],
    );
    assert.deepEqual(s.containerStatuses, [
      {
        name: 'app',
        state: { running: { startedAt: '2026-11-27T23:40:00Z' } },
        ready: true,
        restartCount: 0,
        image: 'registry.local/web:1',
        imageID: 'hollow://registry.local/web:1',
        containerID: 'hollow://u-1/app',
        started: true,
      },
      {
        name: 'side',
        state: { running: { startedAt: '2026-11-27T23:40:00Z' } },
        ready: true,
        restartCount: 0,
        image: 'busybox:1.36',
        imageID: 'hollow://busybox:1.36',
        containerID: 'hollow://u-1/side',
        started: true,
      },
    ]);
    assert.equal(s.initContainerStatuses, undefined);
  });

  test('init containers are reported Completed; earlier fields and transition times are kept', () => {
    const prev: PodStatusV1 = {
      phase: 'Pending',
      qosClass: 'BestEffort',
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: '2026-11-27T23:00:00Z' },
        { type: 'Custom', status: 'False' },
      ],
    };
    const p = pod({ status: prev }, { initContainers: [{ name: 'init', image: 'busybox:1.36' }] });
    const s = buildHollowPodStatus(p, new Date('2026-11-27T23:40:00Z'));
    assert.equal(s.qosClass, 'BestEffort');
    assert.equal(
      s.conditions?.find((c) => c.type === 'PodScheduled')?.lastTransitionTime,
      '2026-11-27T23:00:00Z',
    );
    assert.equal(s.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime, '2026-11-27T23:40:00Z');
    assert.deepEqual(
      s.conditions?.find((c) => c.type === 'Custom'),
      { type: 'Custom', status: 'False' },
    );
    assert.equal(s.initContainerStatuses?.[0].state?.terminated?.exitCode, 0);
    assert.equal(s.initContainerStatuses?.[0].state?.terminated?.reason, 'Completed');
  });

  test('needsHollowStatus: only bound to our nodes, not deleting, not finished, not already ours and Running', () => {
    assert.equal(needsHollowStatus(pod(), ours), true);
    assert.equal(needsHollowStatus(pod({}, { nodeName: undefined }), ours), false, 'unbound');
    assert.equal(needsHollowStatus(pod({}, { nodeName: 'real-node' }), ours), false, 'another node');
    const deleting = pod();
    deleting.metadata.deletionTimestamp = '2026-11-27T23:40:00Z';
    assert.equal(needsHollowStatus(deleting, ours), false, 'being deleted');
    assert.equal(needsHollowStatus(pod({ status: { phase: 'Succeeded' } }), ours), false, 'finished');
    const running = pod();
    running.status = buildHollowPodStatus(running, new Date());
    assert.equal(needsHollowStatus(running, ours), false, 'already Running');
    // a pod replaced under the same name (new uid) with the old status copied is not Running for us
    const replaced = { ...running, metadata: { ...running.metadata, uid: 'u-2' } };
    assert.equal(needsHollowStatus(replaced, ours), true, 'new uid');
    // a container added to the status list only partly
    const partial = pod({
      status: { ...running.status, containerStatuses: [running.status.containerStatuses[0]] },
    });
    assert.equal(needsHollowStatus(partial, ours), true, 'a container missing');
  });
});

describe('hollow flags', () => {
  test('defaults and values', () => {
    const c = parseHollowFlags([
      '--control-plane',
      'http://127.0.0.1:6443',
      '--token',
      't',
      '--count',
      '1000',
    ]);
    assert.equal(c.count, 1000);
    assert.equal(c.prefix, 'hollow-');
    assert.equal(c.heartbeatIntervalMs, 10_000);
    assert.equal(c.statusConcurrency, 32);
    assert.deepEqual(c.capacity, { cpu: '32', memory: '256Gi', pods: '110' });
    const d = parseHollowFlags([
      '--server=http://x:1',
      '--token=t',
      '--heartbeat-interval',
      '2s',
      '--memory',
      '64Gi',
      '--node-status-interval',
      '0',
    ]);
    assert.equal(d.heartbeatIntervalMs, 2000);
    assert.equal(d.capacity.memory, '64Gi');
    assert.equal(d.nodeStatusIntervalMs, 0);
  });

  test('the token comes from the first non-comment line of --token-file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hollow-flags-'));
    try {
      const f = path.join(dir, 'token');
      writeFileSync(f, '# admin\n\nsecret\n');
      assert.equal(parseHollowFlags(['--control-plane', 'http://x:1', '--token-file', f]).token, 'secret');
      assert.throws(
        () => parseHollowFlags(['--control-plane', 'http://x:1', '--token-file', path.join(dir, 'none')]),
        /--token-file: cannot read/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bad input names the flag and what is allowed', () => {
    const base = ['--control-plane', 'http://x:1', '--token', 't'];
    const bad: Array<[string[], RegExp]> = [
      [['--token', 't'], /--control-plane: required/],
      [['--control-plane', 'x:1', '--token', 't'], /--control-plane: must be an http/],
      [['--control-plane', 'http://x:1'], /--token-file or --token: required/],
      [[...base, '--count', '0'], /--count: must be a whole number from 1/],
      [[...base, '--count', 'many'], /--count: must be a whole number/],
      [[...base, '--prefix', 'Hollow_'], /--prefix: must start with a-z/],
      [[...base, '--heartbeat-interval', '10'], /--heartbeat-interval: must be a duration/],
      [[...base, '--memory', 'lots'], /--memory: must be a quantity/],
      [[...base, '--log-format', 'xml'], /--log-format: must be json or pretty/],
      [[...base, '--nodes', '3'], /unknown flag "--nodes"; allowed: --control-plane/],
      [[...base, '--count'], /--count: needs a value/],
    ];
    for (const [argv, re] of bad)
      assert.throws(
        () => parseHollowFlags(argv),
        (e: unknown) => e instanceof FlagError && re.test(e.message),
        argv.join(' '),
      );
  });
});
