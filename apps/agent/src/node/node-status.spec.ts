import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildNode, buildNodeStatus, goArch, osImageFrom, type HostInfo } from './node-status';

const info: HostInfo = {
  nodeName: 'n1',
  hostname: 'host-1',
  internalIP: '10.0.0.5',
  cpus: 8,
  memoryBytes: 16 * 1024 * 1024 * 1024,
  maxPods: 110,
  kernelVersion: '6.1.0',
  osImage: 'Debian GNU/Linux 12 (bookworm)',
  architecture: 'amd64',
  runtimeVersion: 'runc://1.1.5',
  port: 10250,
};

describe('node status', () => {
  test('capacity and allocatable, addresses, nodeInfo, daemon endpoint, Ready heartbeat', () => {
    const now = new Date('2026-01-01T00:00:10.123Z');
    const since = new Date('2026-01-01T00:00:00Z');
    const s = buildNodeStatus(info, now, since);
    assert.deepEqual(s.capacity, { cpu: '8', memory: '16777216Ki', pods: '110' });
    assert.deepEqual(s.allocatable, s.capacity);
    assert.deepEqual(s.addresses, [
      { type: 'InternalIP', address: '10.0.0.5' },
      { type: 'Hostname', address: 'host-1' },
    ]);
    assert.equal(s.nodeInfo?.kubeletVersion, 'berth/0.1.0');
    assert.equal(s.nodeInfo?.containerRuntimeVersion, 'runc://1.1.5');
    assert.equal(s.nodeInfo?.operatingSystem, 'linux');
    assert.deepEqual(s.daemonEndpoints, { kubeletEndpoint: { Port: 10250 } });
    const ready = s.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'True');
    assert.equal(ready?.lastHeartbeatTime, '2026-01-01T00:00:10Z');
    assert.equal(ready?.lastTransitionTime, '2026-01-01T00:00:00Z');
  });

  test('the Node object carries the well-known labels', () => {
    const n = buildNode(info, new Date());
    assert.equal(n.metadata.name, 'n1');
    assert.equal(n.metadata.labels?.['kubernetes.io/hostname'], 'n1');
    assert.equal(n.metadata.labels?.['kubernetes.io/arch'], 'amd64');
  });

  test('architecture and OS image names', () => {
    assert.equal(goArch('x64'), 'amd64');
    assert.equal(goArch('arm64'), 'arm64');
    assert.equal(
      osImageFrom('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'),
      'Debian GNU/Linux 12 (bookworm)',
    );
    assert.equal(osImageFrom(undefined), 'Linux');
  });
});
