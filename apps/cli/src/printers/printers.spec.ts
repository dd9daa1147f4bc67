import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveKindName, type KubeObject } from '@berth/api';
import { UsageError } from '../errors';
import { createPrinter, formatTable, podStatus } from './index';

const NOW = Date.parse('2026-01-10T12:00:00Z');
const kind = (n: string) => resolveKindName(n)!;
const ago = (ms: number) => new Date(NOW - ms).toISOString();

function pod(name: string, over: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', creationTimestamp: ago(5000), labels: { app: 'web' } },
    spec: {
      containers: [
        { name: 'a', image: 'busybox' },
        { name: 'b', image: 'nginx' },
      ],
      nodeName: 'node-1',
    },
    status: {
      phase: 'Running',
      podIP: '10.0.0.7',
      containerStatuses: [
        { name: 'a', ready: true, restartCount: 0, state: { running: {} } },
        { name: 'b', ready: true, restartCount: 0, state: { running: {} } },
      ],
    },
    ...over,
  };
}

describe('table printer', () => {
  test('pods: kubectl headers, 3-space gaps, last column unpadded', () => {
    const p = createPrinter(undefined, { kind: kind('po'), now: NOW });
    const crashing = pod('worker-long-name', {
      metadata: {
        name: 'worker-long-name',
        namespace: 'default',
        creationTimestamp: ago(3 * 3600_000 + 20 * 60_000),
      },
      status: {
        phase: 'Running',
        containerStatuses: [
          {
            name: 'a',
            ready: false,
            restartCount: 4,
            state: { waiting: { reason: 'CrashLoopBackOff' } },
            lastState: { terminated: { exitCode: 1, finishedAt: ago(65_000) } },
          },
          { name: 'b', ready: true, restartCount: 1, state: { running: {} } },
        ],
      },
    });
    assert.equal(
      p.print([pod('web'), crashing], false),
      'NAME               READY   STATUS             RESTARTS      AGE\n' +
        'web                2/2     Running            0             5s\n' +
        'worker-long-name   1/2     CrashLoopBackOff   5 (65s ago)   3h20m\n',
    );
  });

  test('pods -o wide adds IP and NODE; -A puts NAMESPACE first; --show-labels adds LABELS', () => {
    const p = createPrinter('wide', { kind: kind('pods'), now: NOW, allNamespaces: true, showLabels: true });
    const pending = pod('new', { spec: { containers: [{ name: 'a' }] }, status: { phase: 'Pending' } });
    pending.metadata.labels = {};
    assert.equal(
      p.print([pod('web'), pending], false),
      'NAMESPACE   NAME   READY   STATUS    RESTARTS   AGE   IP         NODE     LABELS\n' +
        'default     web    2/2     Running   0          5s    10.0.0.7   node-1   app=web\n' +
        'default     new    0/1     Pending   0          5s    <none>     <none>   <none>\n',
    );
  });

  test('deployments and replicasets', () => {
    const dep: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', creationTimestamp: ago(2 * 86400_000 + 4 * 3600_000) },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web' } },
        template: {
          spec: {
            containers: [
              { name: 'app', image: 'busybox:1.36' },
              { name: 'side', image: 'nginx' },
            ],
          },
        },
      },
      status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2, replicas: 3 },
    };
    assert.equal(
      createPrinter('', { kind: kind('deploy'), now: NOW }).print([dep], false),
      'NAME   READY   UP-TO-DATE   AVAILABLE   AGE\nweb    2/3     3            2           2d4h\n',
    );
    assert.equal(
      createPrinter('wide', { kind: kind('deploy'), now: NOW }).print([dep], false),
      'NAME   READY   UP-TO-DATE   AVAILABLE   AGE    CONTAINERS   IMAGES               SELECTOR\n' +
        'web    2/3     3            2           2d4h   app,side     busybox:1.36,nginx   app=web\n',
    );
    assert.equal(
      createPrinter('', { kind: kind('rs'), now: NOW }).print([{ ...dep, kind: 'ReplicaSet' }], false),
      'NAME   DESIRED   CURRENT   READY   AGE\nweb    3         3         2       2d4h\n',
    );
  });

  test('nodes, namespaces, configmaps, secrets, events', () => {
    const node: KubeObject = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: 'node-1',
        creationTimestamp: ago(90_000),
        labels: { 'node-role.kubernetes.io/worker': '' },
      },
      spec: { unschedulable: true },
      status: {
        conditions: [{ type: 'Ready', status: 'True' }],
        nodeInfo: { kubeletVersion: 'berth-0.1.0' },
      },
    };
    assert.equal(
      createPrinter('', { kind: kind('no'), now: NOW }).print([node], false),
      'NAME     STATUS                     ROLES    AGE   VERSION\nnode-1   Ready,SchedulingDisabled   worker   90s   berth-0.1.0\n',
    );
    const ns: KubeObject = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'prod', creationTimestamp: ago(0) },
    };
    assert.equal(
      createPrinter('', { kind: kind('ns'), now: NOW }).print([ns], false),
      'NAME   STATUS   AGE\nprod   Active   0s\n',
    );
    const cm: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', creationTimestamp: ago(60_000) },
      data: { a: '1', b: '2' },
      binaryData: { c: 'AA==' },
    };
    assert.equal(
      createPrinter('', { kind: kind('cm'), now: NOW }).print([cm], false),
      'NAME       DATA   AGE\nsettings   3      60s\n',
    );
    const secret: KubeObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'creds', creationTimestamp: ago(60_000) },
      data: { u: 'dQ==' },
    };
    assert.equal(
      createPrinter('', { kind: kind('secret'), now: NOW }).print([secret], false),
      'NAME    TYPE     DATA   AGE\ncreds   Opaque   1      60s\n',
    );
    const ev: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'web.1', creationTimestamp: ago(600_000) },
      type: 'Warning',
      reason: 'BackOff',
      involvedObject: { kind: 'Pod', name: 'web' },
      message: 'Back-off restarting\nfailed container',
      lastTimestamp: ago(30_000),
    };
    assert.equal(
      createPrinter('', { kind: kind('ev'), now: NOW }).print([ev], false),
      'LAST SEEN   TYPE      REASON    OBJECT    MESSAGE\n30s         Warning   BackOff   pod/web   Back-off restarting failed container\n',
    );
  });

  test('watch rows keep the columns of the first print', () => {
    const p = createPrinter(undefined, { kind: kind('ns'), now: NOW });
    const ns = (name: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, creationTimestamp: ago(1000) },
    });
    assert.equal(p.print([ns('default')], false), 'NAME      STATUS   AGE\ndefault   Active   1s\n');
    assert.equal(p.printEvent('ADDED', ns('a')), 'a         Active   1s\n');
    const empty = createPrinter(undefined, { kind: kind('ns'), now: NOW });
    assert.equal(empty.print([], false), 'NAME   STATUS   AGE\n');
    const fresh = createPrinter(undefined, { kind: kind('ns'), now: NOW });
    assert.equal(fresh.printEvent('ADDED', ns('a')), 'NAME   STATUS   AGE\na      Active   1s\n');
  });

  test('formatTable pads every column but the last', () => {
    assert.equal(
      formatTable([
        ['A', 'BB', 'C'],
        ['xxx', 'y', 'z'],
      ]).text,
      'A     BB   C\nxxx   y    z\n',
    );
  });
});

describe('pod STATUS', () => {
  test('terminating, exit codes, completed', () => {
    assert.equal(podStatus(pod('x', { metadata: { name: 'x', deletionTimestamp: ago(0) } })), 'Terminating');
    assert.equal(
      podStatus(
        pod('x', {
          status: {
            phase: 'Failed',
            containerStatuses: [{ name: 'a', state: { terminated: { exitCode: 3 } } }],
          },
        }),
      ),
      'ExitCode:3',
    );
    assert.equal(
      podStatus(
        pod('x', {
          status: {
            phase: 'Succeeded',
            containerStatuses: [{ name: 'a', state: { terminated: { exitCode: 0, reason: 'Completed' } } }],
          },
        }),
      ),
      'Completed',
    );
  });
});

describe('name, json and yaml printers', () => {
  const dep: KubeObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' } };
  test('-o name qualifies the kind with its group', () => {
    assert.equal(
      createPrinter('name', { kind: kind('deploy'), now: NOW }).print([dep, dep], false),
      'deployment.apps/web\ndeployment.apps/web\n',
    );
    assert.equal(createPrinter('name', { kind: kind('po'), now: NOW }).print([pod('x')], false), 'pod/x\n');
  });
  test('-o yaml: one object asked by name prints the object, several print a List', () => {
    const p = createPrinter('yaml', { kind: kind('deploy'), now: NOW });
    assert.equal(p.print([dep], true), 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n');
    assert.equal(
      createPrinter('yaml', { kind: kind('deploy'), now: NOW }).print([dep], false),
      'apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: ""\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: web\n',
    );
  });
  test('-o json prints 4-space JSON', () => {
    const out = createPrinter('json', { kind: kind('deploy'), now: NOW }).print([dep], true);
    assert.equal(out, JSON.stringify(dep, null, 4) + '\n');
  });
  test('an unknown -o is a usage error listing the allowed formats', () => {
    assert.throws(
      () => createPrinter('xml', { kind: kind('po'), now: NOW }),
      (e: unknown) =>
        e instanceof UsageError &&
        e.exitCode === 2 &&
        e.message === 'unknown output format "xml": allowed formats are wide, yaml, json, name',
    );
  });
});

describe('workload columns', () => {
  test('leases: NAME HOLDER AGE', () => {
    const p = createPrinter(undefined, { kind: kind('leases'), now: NOW });
    const lease: KubeObject = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'node-1', namespace: 'kube-node-lease', creationTimestamp: ago(60_000) },
      spec: { holderIdentity: 'node-1', leaseDurationSeconds: 40 },
    };
    assert.equal(p.print([lease], false), 'NAME     HOLDER   AGE\nnode-1   node-1   60s\n');
  });
  test('events -o wide adds SOURCE, FIRST SEEN, COUNT and NAME', () => {
    const p = createPrinter('wide', { kind: kind('events'), now: NOW });
    const ev: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'web.1', namespace: 'default' },
      involvedObject: { kind: 'Pod', name: 'web' },
      type: 'Warning',
      reason: 'BackOff',
      message: 'back-off',
      source: { component: 'berth-agent', host: 'node-1' },
      count: 3,
      firstTimestamp: ago(120_000),
      lastTimestamp: ago(5_000),
    };
    assert.equal(
      p.print([ev], false),
      'LAST SEEN   TYPE      REASON    OBJECT    MESSAGE    SOURCE                FIRST SEEN   COUNT   NAME\n' +
        '5s          Warning   BackOff   pod/web   back-off   berth-agent, node-1   2m           3       web.1\n',
    );
  });
  test('nodes: a cordoned Ready node is Ready,SchedulingDisabled', () => {
    const p = createPrinter(undefined, { kind: kind('nodes'), now: NOW });
    const node: KubeObject = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n1', creationTimestamp: ago(1000) },
      spec: { unschedulable: true },
      status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1' } },
    };
    assert.match(p.print([node], false), /\nn1 +Ready,SchedulingDisabled +<none> +1s +v1\n$/);
  });
});
