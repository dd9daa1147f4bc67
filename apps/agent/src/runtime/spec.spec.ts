import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildSpec,
  resolveArgs,
  mergeEnv,
  resolveCapabilities,
  DEFAULT_CAPABILITIES,
  ALL_CAPABILITIES,
  MASKED_PATHS,
  READONLY_PATHS,
  ContainerConfigError,
} from './spec';
import type { ContainerConfig } from './types';

const base = (over: Partial<ContainerConfig> = {}): ContainerConfig => ({
  id: 'c-1',
  name: 'web',
  podName: 'web-0',
  podUID: 'uid-1',
  rootfs: '/var/lib/berth/containers/c-1/rootfs',
  image: { entrypoint: ['/entry'], cmd: ['serve'], env: ['PATH=/bin', 'A=1'], workingDir: '/app' },
  ...over,
});

describe('resolveArgs (Kubernetes command/args over Entrypoint/Cmd)', () => {
  test('neither given: image Entrypoint then Cmd', () => {
    assert.deepEqual(resolveArgs(['/e', 'x'], ['c'], undefined, undefined), ['/e', 'x', 'c']);
  });
  test('command only: command alone, image Cmd ignored', () => {
    assert.deepEqual(resolveArgs(['/e'], ['c'], ['/bin/sh'], undefined), ['/bin/sh']);
  });
  test('args only: image Entrypoint with args instead of Cmd', () => {
    assert.deepEqual(resolveArgs(['/e'], ['c'], undefined, ['a', 'b']), ['/e', 'a', 'b']);
  });
  test('both: command then args', () => {
    assert.deepEqual(resolveArgs(['/e'], ['c'], ['/x'], ['y']), ['/x', 'y']);
  });
  test('empty lists count as not given', () => {
    assert.deepEqual(resolveArgs(['/e'], ['c'], [], []), ['/e', 'c']);
  });
  test('no Entrypoint: Cmd alone', () => {
    assert.deepEqual(resolveArgs(undefined, ['sh'], undefined, undefined), ['sh']);
  });
});

describe('mergeEnv', () => {
  test('container env replaces image values in place and appends new names', () => {
    assert.deepEqual(
      mergeEnv(
        ['A=1', 'B=2=3', 'C'],
        [
          { name: 'A', value: 'x' },
          { name: 'D', value: '' },
        ],
      ),
      ['A=x', 'B=2=3', 'C=', 'D='],
    );
  });
});

describe('resolveCapabilities', () => {
  test("defaults are Docker's 14 capabilities", () => {
    assert.deepEqual(new Set(resolveCapabilities(undefined)), new Set(DEFAULT_CAPABILITIES));
    assert.equal(DEFAULT_CAPABILITIES.length, 14);
  });
  test("Docker's default set is the CapEff mask 00000000a80425fb", () => {
    let mask = 0n;
    for (const c of resolveCapabilities(undefined)) mask |= 1n << BigInt(ALL_CAPABILITIES.indexOf(c));
    assert.equal(mask.toString(16).padStart(16, '0'), '00000000a80425fb');
  });
  test('add and drop take names with or without CAP_, in any case', () => {
    const caps = resolveCapabilities({
      capabilities: { add: ['net_admin', 'CAP_SYS_TIME'], drop: ['KILL'] },
    });
    assert.ok(caps.includes('CAP_NET_ADMIN'));
    assert.ok(caps.includes('CAP_SYS_TIME'));
    assert.ok(!caps.includes('CAP_KILL'));
    assert.ok(caps.includes('CAP_CHOWN'));
  });
  test('drop ALL then add keeps only the added ones', () => {
    assert.deepEqual(resolveCapabilities({ capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } }), [
      'CAP_NET_BIND_SERVICE',
    ]);
  });
  test('privileged and add ALL give every capability', () => {
    assert.equal(resolveCapabilities({ privileged: true }).length, ALL_CAPABILITIES.length);
    assert.equal(resolveCapabilities({ capabilities: { add: ['ALL'] } }).length, ALL_CAPABILITIES.length);
  });
  test('an unknown capability names the field', () => {
    assert.throws(
      () => resolveCapabilities({ capabilities: { add: ['FLY'] } }),
      (e: unknown) => e instanceof ContainerConfigError && e.field === 'securityContext.capabilities.add[0]',
    );
  });
});

describe('buildSpec', () => {
  test('process: args, env, cwd, user, capabilities, rlimits, noNewPrivileges', () => {
    const s = buildSpec(base({ env: [{ name: 'A', value: '2' }], user: { uid: 1000, gid: 100 } }));
    assert.deepEqual(s.process.args, ['/entry', 'serve']);
    assert.deepEqual(s.process.env, ['PATH=/bin', 'A=2', 'HOSTNAME=web-0']);
    assert.equal(s.process.cwd, '/app');
    assert.deepEqual(s.process.user, { uid: 1000, gid: 100 });
    assert.equal(s.process.noNewPrivileges, true);
    assert.deepEqual(new Set(s.process.capabilities.bounding), new Set(DEFAULT_CAPABILITIES));
    assert.deepEqual(s.process.capabilities.effective, s.process.capabilities.bounding);
    assert.deepEqual(s.process.capabilities.permitted, s.process.capabilities.bounding);
    assert.deepEqual(s.process.capabilities.ambient, []);
    assert.deepEqual(s.process.capabilities.inheritable, []);
    const nofile = s.process.rlimits.find((r) => r.type === 'RLIMIT_NOFILE');
    assert.ok(nofile && nofile.hard < 20000 && nofile.soft <= nofile.hard);
    assert.equal(s.process.terminal, false);
  });

  test('PATH is added when the image has none; workingDir overrides the image; default cwd is /', () => {
    const s = buildSpec(base({ image: { cmd: ['sh'] }, workingDir: '/w' }));
    assert.ok(s.process.env[0].startsWith('PATH=/usr/local/sbin'));
    assert.equal(s.process.cwd, '/w');
    assert.equal(buildSpec(base({ image: { cmd: ['sh'] } })).process.cwd, '/');
  });

  test('root, hostname, namespaces and cgroupsPath', () => {
    const s = buildSpec(base({ securityContext: { readOnlyRootFilesystem: true } }));
    assert.deepEqual(s.root, { path: '/var/lib/berth/containers/c-1/rootfs', readonly: true });
    assert.equal(s.hostname, 'web-0');
    assert.deepEqual(s.linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
    assert.equal(s.linux.cgroupsPath, '/berth/uid-1/c-1');
  });

  test('hostNetwork omits the network and UTS namespaces and the hostname', () => {
    const s = buildSpec(base({ hostNetwork: true }));
    assert.deepEqual(s.linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'pid']);
    assert.equal(s.hostname, undefined);
    assert.ok(!s.process.env.some((e) => e.startsWith('HOSTNAME=')));
  });

  test('a network namespace path is joined', () => {
    const s = buildSpec(base({ networkNamespacePath: '/run/netns/p1' }));
    assert.deepEqual(
      s.linux.namespaces.find((n) => n.type === 'network'),
      { type: 'network', path: '/run/netns/p1' },
    );
  });

  test('mounts: proc, dev, pts, shm 64m, mqueue, ro sys and cgroup, etc files, volumes', () => {
    const s = buildSpec(
      base({
        etcFiles: { hosts: '/p/hosts', resolvConf: '/p/resolv.conf', hostname: '/p/hostname' },
        mounts: [
          { source: '/v/data', destination: '/data' },
          { source: '/v/cfg', destination: '/cfg', readOnly: true },
        ],
      }),
    );
    const by = new Map(s.mounts.map((m) => [m.destination, m]));
    assert.equal(by.get('/proc')?.type, 'proc');
    assert.equal(by.get('/dev')?.type, 'tmpfs');
    assert.equal(by.get('/dev/pts')?.type, 'devpts');
    assert.ok(by.get('/dev/shm')?.options?.includes('size=67108864'));
    assert.equal(by.get('/dev/mqueue')?.type, 'mqueue');
    assert.ok(by.get('/sys')?.options?.includes('ro'));
    assert.ok(by.get('/sys/fs/cgroup')?.options?.includes('ro'));
    assert.equal(by.get('/etc/hosts')?.source, '/p/hosts');
    assert.equal(by.get('/etc/resolv.conf')?.source, '/p/resolv.conf');
    assert.equal(by.get('/etc/hostname')?.source, '/p/hostname');
    assert.deepEqual(by.get('/data')?.options, ['rbind', 'rprivate', 'rw']);
    assert.deepEqual(by.get('/cfg')?.options, ['rbind', 'rprivate', 'ro']);
    assert.equal(by.get('/cfg')?.type, 'bind');
  });

  test('resources: memory limit, CFS quota from the limit, shares from the request', () => {
    const s = buildSpec(
      base({ resources: { memoryLimitBytes: 64 << 20, cpuLimitMillis: 500, cpuRequestMillis: 250 } }),
    );
    assert.deepEqual(s.linux.resources.memory, { limit: 64 << 20 });
    assert.deepEqual(s.linux.resources.cpu, { shares: 256, quota: 50000, period: 100000 });
    assert.deepEqual(buildSpec(base()).linux.resources.cpu, { shares: 2 });
    assert.equal(buildSpec(base({ resources: { cpuLimitMillis: 1 } })).linux.resources.cpu?.quota, 1000);
  });

  test("masked and read-only paths are Docker's; devices are denied by default", () => {
    const s = buildSpec(base());
    assert.deepEqual(s.linux.maskedPaths, [...MASKED_PATHS]);
    assert.ok(s.linux.maskedPaths.includes('/proc/kcore'));
    assert.deepEqual(s.linux.readonlyPaths, [...READONLY_PATHS]);
    assert.ok(s.linux.readonlyPaths.includes('/proc/sys'));
    assert.deepEqual(s.linux.resources.devices, [{ allow: false, access: 'rwm' }]);
  });

  test('privileged: all capabilities, no masks, rw sys, all devices, privilege escalation allowed', () => {
    const s = buildSpec(base({ securityContext: { privileged: true } }));
    assert.equal(s.process.capabilities.bounding.length, ALL_CAPABILITIES.length);
    assert.deepEqual(s.linux.maskedPaths, []);
    assert.deepEqual(s.linux.readonlyPaths, []);
    assert.ok(s.mounts.find((m) => m.destination === '/sys')?.options?.includes('rw'));
    assert.deepEqual(s.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
    assert.equal(s.process.noNewPrivileges, false);
  });

  test('bad input names the field', () => {
    const cases: [Partial<ContainerConfig>, string][] = [
      [{ id: 'bad/id' }, 'id'],
      [{ rootfs: 'relative' }, 'rootfs'],
      [{ workingDir: 'app' }, 'workingDir'],
      [{ user: { uid: -1, gid: 0 } }, 'user.uid'],
      [{ resources: { memoryLimitBytes: 1.5 } }, 'resources.memoryLimitBytes'],
      [{ mounts: [{ source: 'x', destination: '/x' }] }, 'mounts[0].source'],
      [{ env: [{ name: 'A=B', value: '' }] }, 'env[0].name'],
      [{ image: {} }, 'command'],
    ];
    for (const [over, field] of cases)
      assert.throws(
        () => buildSpec(base(over)),
        (e: unknown) => e instanceof ContainerConfigError && e.field === field,
        `expected an error on ${field}`,
      );
  });

  test('is pure: same input, same output, input untouched', () => {
    const c = base({ env: [{ name: 'Z', value: '1' }] });
    const copy = JSON.parse(JSON.stringify(c));
    assert.deepEqual(buildSpec(c), buildSpec(c));
    assert.deepEqual(c, copy);
  });
});
