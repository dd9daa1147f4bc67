import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@berth/api';
import { ApiError } from '@berth/api';
import { CommandContext } from '../context';
import { CliError } from '../errors';
import type { CliIO } from '../io';
import { cascadePolicy } from './delete.command';
import { DRAIN_MESSAGES, planDrain } from './drain.command';
import { eventLastSeen, eventRow, forSelector, sortEvents } from './events.command';
import { deploymentTarget, runUndo } from './rollout.command';

const NOW = Date.parse('2026-01-10T12:00:00Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();

function pod(name: string, opts: { owner?: string; emptyDir?: boolean; phase?: string } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      ownerReferences: opts.owner
        ? [{ apiVersion: 'apps/v1', kind: opts.owner, name: 'x', uid: 'u', controller: true }]
        : undefined,
    },
    spec: { containers: [], volumes: opts.emptyDir ? [{ name: 'v', emptyDir: {} }] : [] },
    status: { phase: opts.phase ?? 'Running' },
  };
}

describe('drain plan (kubectl filters)', () => {
  const pods = [
    pod('managed', { owner: 'ReplicaSet' }),
    pod('solo'),
    pod('scratch', { owner: 'ReplicaSet', emptyDir: true }),
    pod('daemon', { owner: 'DaemonSet' }),
    pod('done', { phase: 'Succeeded' }),
  ];
  test('without flags: unmanaged, emptyDir and DaemonSet pods are refused with kubectl wording; finished pods go', () => {
    const plan = planDrain(pods, {});
    assert.deepEqual(
      plan.pods.map((p) => p.metadata.name),
      ['managed', 'done'],
    );
    assert.deepEqual(plan.errors.get(DRAIN_MESSAGES.unmanagedFatal), ['default/solo']);
    assert.deepEqual(plan.errors.get(DRAIN_MESSAGES.localStorageFatal), ['default/scratch']);
    assert.deepEqual(plan.errors.get(DRAIN_MESSAGES.daemonSetFatal), ['default/daemon']);
    assert.equal(
      DRAIN_MESSAGES.unmanagedFatal,
      'cannot delete Pods that declare no controller (use --force to override)',
    );
  });
  test('--force --delete-emptydir-data --ignore-daemonsets: deleted with warnings, DaemonSet pods skipped', () => {
    const plan = planDrain(pods, { force: true, deleteEmptydirData: true, ignoreDaemonsets: true });
    assert.equal(plan.errors.size, 0);
    assert.deepEqual(
      plan.pods.map((p) => p.metadata.name),
      ['managed', 'solo', 'scratch', 'done'],
    );
    assert.deepEqual(plan.warnings.get(DRAIN_MESSAGES.unmanagedWarning), ['default/solo']);
    assert.deepEqual(plan.warnings.get(DRAIN_MESSAGES.daemonSetWarning), ['default/daemon']);
  });
  test('pods already being deleted are left alone', () => {
    const p = pod('going');
    p.metadata.deletionTimestamp = ago(1000);
    const plan = planDrain([p], {});
    assert.equal(plan.pods.length + plan.errors.size, 0);
  });
});

describe('events', () => {
  const ev = (fields: Record<string, unknown>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'e', namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'web-1' },
    type: 'Warning',
    reason: 'BackOff',
    message: 'restarting\nfailed container',
    ...fields,
  });
  test('LAST SEEN shows (xN over AGE) for repeated events, else the age of the last time', () => {
    assert.equal(
      eventLastSeen(ev({ count: 5, firstTimestamp: ago(300_000), lastTimestamp: ago(10_000) }), NOW),
      '10s (x5 over 5m)',
    );
    assert.equal(eventLastSeen(ev({ count: 1, lastTimestamp: ago(90_000) }), NOW), '90s');
    assert.equal(eventLastSeen(ev({ eventTime: ago(30_000) }), NOW), '30s');
    assert.equal(
      eventLastSeen(ev({ eventTime: ago(600_000), series: { count: 3, lastObservedTime: ago(5_000) } }), NOW),
      '5s (x3 over 10m)',
    );
  });
  test('sorted oldest first by lastTimestamp, else eventTime, else firstTimestamp', () => {
    const a = ev({ lastTimestamp: ago(10_000) });
    const b = ev({ eventTime: ago(20_000) });
    const c = ev({ firstTimestamp: ago(30_000) });
    assert.deepEqual(sortEvents([a, b, c]), [c, b, a]);
  });
  test('a row: Kind/name object and a one-line message; -A adds the namespace first', () => {
    assert.deepEqual(eventRow(ev({ lastTimestamp: ago(5000) }), NOW, true), [
      'default',
      '5s',
      'Warning',
      'BackOff',
      'Pod/web-1',
      'restarting failed container',
    ]);
  });
  test('--for KIND/NAME is a field selector on involvedObject; a bare name is a pod; a bad kind is not found', () => {
    assert.equal(forSelector('deploy/web'), 'involvedObject.kind=Deployment,involvedObject.name=web');
    assert.equal(forSelector('web-1'), 'involvedObject.kind=Pod,involvedObject.name=web-1');
    assert.throws(
      () => forSelector('gadgets/x'),
      (e: unknown) => e instanceof CliError && e.exitCode === 3,
    );
  });
});

describe('delete --cascade', () => {
  test('kubectl values and booleans map to propagation policies; anything else is a usage error', () => {
    assert.equal(cascadePolicy(undefined), 'Background');
    assert.equal(cascadePolicy('background'), 'Background');
    assert.equal(cascadePolicy('true'), 'Background');
    assert.equal(cascadePolicy(true), 'Background');
    assert.equal(cascadePolicy('foreground'), 'Foreground');
    assert.equal(cascadePolicy('orphan'), 'Orphan');
    assert.equal(cascadePolicy('false'), 'Orphan');
    assert.throws(
      () => cascadePolicy('maybe'),
      (e: unknown) => e instanceof CliError && e.exitCode === 2,
    );
  });
});

describe('rollout', () => {
  test('targets: deploy/NAME or deployment NAME; other kinds and missing names are usage errors', () => {
    assert.equal(deploymentTarget(['deploy/web'], 'status'), 'web');
    assert.equal(deploymentTarget(['deployments.apps', 'web'], 'status'), 'web');
    assert.throws(
      () => deploymentTarget(['rs/web'], 'status'),
      /rollout status works on deployments, not replicasets/,
    );
    assert.throws(
      () => deploymentTarget(['deploy'], 'undo'),
      (e: unknown) => e instanceof CliError && e.exitCode === 2,
    );
  });

  test('undo sends one JSON patch pinned to the resourceVersion read, with the old template minus pod-template-hash', async () => {
    const d: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default', uid: 'd1', resourceVersion: '42', annotations: {} },
      spec: {
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'a', image: 'x:2' }] },
        },
      },
    };
    const rs = (rev: string, image: string): KubeObject => ({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `web-${rev}`,
        annotations: { 'deployment.kubernetes.io/revision': rev },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd1', controller: true },
        ],
      },
      spec: {
        template: {
          metadata: { labels: { app: 'web', 'pod-template-hash': rev } },
          spec: { containers: [{ name: 'a', image }] },
        },
      },
    });
    const patches: { patch: unknown; type: string }[] = [];
    let out = '';
    const io: CliIO = {
      out: (t) => (out += t),
      err: () => undefined,
      env: {},
      readStdin: async () => '',
      now: () => NOW,
    };
    const ctx = new CommandContext(io, { namespace: 'default', server: 'http://127.0.0.1:1' });
    Object.defineProperty(ctx, 'client', {
      value: {
        get: async () => d,
        listAll: async () => ({ items: [rs('1', 'x:1'), rs('2', 'x:2')] }),
        patch: async (_k: unknown, _ns: string, _n: string, patch: unknown, type: string) => {
          patches.push({ patch, type });
          return d;
        },
      },
    });
    assert.equal(await runUndo(ctx, ['deploy/web'], {}), 0);
    assert.equal(out, 'deployment.apps/web rolled back\n');
    assert.equal(patches.length, 1);
    assert.equal(patches[0].type, 'json');
    assert.deepEqual(patches[0].patch, [
      { op: 'replace', path: '/metadata/resourceVersion', value: '42' },
      {
        op: 'replace',
        path: '/spec/template',
        value: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'a', image: 'x:1' }] } },
      },
      { op: 'add', path: '/metadata/annotations', value: {} },
    ]);

    // A status write by the controller between the read and the patch is a 409: undo reads the
    // Deployment again and patches with the new resourceVersion.
    patches.length = 0;
    out = '';
    let reads = 0;
    const ctx2 = new CommandContext(io, { namespace: 'default', server: 'http://127.0.0.1:1' });
    Object.defineProperty(ctx2, 'client', {
      value: {
        get: async () => ({ ...d, metadata: { ...d.metadata, resourceVersion: String(42 + reads++) } }),
        listAll: async () => ({ items: [rs('1', 'x:1'), rs('2', 'x:2')] }),
        patch: async (_k: unknown, _ns: string, _n: string, patch: unknown, type: string) => {
          patches.push({ patch, type });
          if (patches.length === 1) throw new ApiError('Conflict', 'the object has been modified');
          return d;
        },
      },
    });
    assert.equal(await runUndo(ctx2, ['deploy/web'], {}), 0);
    assert.equal(out, 'deployment.apps/web rolled back\n');
    assert.deepEqual(
      patches.map((p) => (p.patch as { value: unknown }[])[0].value),
      ['42', '43'],
    );
  });
});
