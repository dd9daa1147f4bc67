import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostsFile, projectedFiles, resolvConf, VolumeError, VolumeManager } from './volumes';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'agent-vol-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('volumes and /etc files', () => {
  test('hosts file names the pod; resolv.conf is the host one or a default', () => {
    const h = hostsFile({
      hostname: 'web',
      hostAliases: [{ ip: '10.1.1.1', hostnames: ['db', 'db.local'] }],
    });
    assert.match(h, /^127\.0\.0\.1\tlocalhost$/m);
    assert.match(h, /^127\.0\.1\.1\tweb$/m);
    assert.match(h, /^10\.1\.1\.1\tdb\tdb\.local$/m);
    assert.equal(resolvConf('nameserver 1.1.1.1'), 'nameserver 1.1.1.1\n');
    assert.match(resolvConf(undefined), /^nameserver /);
    assert.match(resolvConf('# empty\n'), /^nameserver /);
  });

  test('projected files: every key, or the listed items with modes; a missing item key is named', () => {
    assert.deepEqual(projectedFiles({ a: '1', b: '2' }, undefined, undefined, 'v'), [
      { path: 'a', content: '1', mode: 0o644 },
      { path: 'b', content: '2', mode: 0o644 },
    ]);
    assert.deepEqual(
      projectedFiles({ a: '1', b: '2' }, [{ key: 'b', path: 'x/b.txt', mode: 0o600 }], 0o640, 'v'),
      [{ path: 'x/b.txt', content: '2', mode: 0o600 }],
    );
    assert.throws(
      () => projectedFiles({}, [{ key: 'z', path: 'z' }], undefined, 'spec.volumes[0].configMap'),
      /spec\.volumes\[0\]\.configMap\.items\[0\]\.key/,
    );
  });

  test('prepare: emptyDir, configMap and secret files, hostPath types, etc files; remove deletes it all', async () => {
    const vm = new VolumeManager(path.join(tmp, 'pods'), '/nonexistent-resolv', '/nonexistent-hosts');
    const hostDir = path.join(tmp, 'host-data');
    const pod = {
      metadata: { uid: 'u1', name: 'web' },
      spec: {
        containers: [],
        volumes: [
          { name: 'scratch', emptyDir: {} },
          { name: 'cfg', configMap: { name: 'cm' } },
          { name: 'sec', secret: { secretName: 's', items: [{ key: 'pw', path: 'creds/pw', mode: 0o400 }] } },
          { name: 'host', hostPath: { path: hostDir, type: 'DirectoryOrCreate' } },
        ],
      },
    };
    const p = await vm.prepare(
      pod as never,
      { configMaps: new Map([['cm', { 'a.conf': 'x=1' }]]), secrets: new Map([['s', { pw: 'hunter2' }]]) },
      '10.0.0.1',
    );
    const scratch = p.volumes.get('scratch')!;
    assert.equal(statSync(scratch).mode & 0o777, 0o777);
    assert.equal(readFileSync(path.join(p.volumes.get('cfg')!, 'a.conf'), 'utf8'), 'x=1');
    const pw = path.join(p.volumes.get('sec')!, 'creds/pw');
    assert.equal(readFileSync(pw, 'utf8'), 'hunter2');
    assert.equal(statSync(pw).mode & 0o777, 0o400);
    assert.equal(p.volumes.get('host'), hostDir);
    assert.ok(statSync(hostDir).isDirectory());
    assert.equal(readFileSync(p.etcFiles.hostname, 'utf8'), 'web\n');
    assert.match(readFileSync(p.etcFiles.hosts, 'utf8'), /\tweb$/m);
    // a second prepare (e.g. after an agent restart) rewrites projected files in place
    await vm.prepare(
      pod as never,
      { configMaps: new Map([['cm', { 'b.conf': 'y=2' }]]), secrets: new Map([['s', { pw: 'x' }]]) },
      '10.0.0.1',
    );
    assert.equal(existsSync(path.join(p.volumes.get('cfg')!, 'a.conf')), false);
    assert.equal(readFileSync(path.join(p.volumes.get('cfg')!, 'b.conf'), 'utf8'), 'y=2');
    await vm.remove('u1');
    assert.equal(existsSync(path.join(tmp, 'pods', 'u1')), false);
    assert.ok(existsSync(hostDir), "hostPath data is the host's: kept");
  });

  test('errors name the volume field', async () => {
    const vm = new VolumeManager(path.join(tmp, 'pods2'));
    const file = path.join(tmp, 'a-file');
    writeFileSync(file, '');
    const prep = (v: object) =>
      vm.prepare(
        { metadata: { uid: 'u2', name: 'p' }, spec: { containers: [], volumes: [v] } } as never,
        { configMaps: new Map(), secrets: new Map() },
        '',
      );
    await assert.rejects(
      prep({ name: 'c', configMap: { name: 'missing' } }),
      (e: unknown) =>
        e instanceof VolumeError &&
        /spec\.volumes\[0\]\.configMap: configmap "missing" not found/.test(e.message),
    );
    await assert.rejects(
      prep({ name: 'h', hostPath: { path: file, type: 'Directory' } }),
      /spec\.volumes\[0\]\.hostPath\.path: .* is not an existing directory/,
    );
    await assert.rejects(
      prep({ name: 'h', hostPath: { path: 'rel', type: '' } }),
      /must be an absolute path/,
    );
    await prep({ name: 'c', configMap: { name: 'missing', optional: true } });
  });
});
