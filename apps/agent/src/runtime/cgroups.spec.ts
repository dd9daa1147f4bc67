import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { tempDir } from '@berth/testing';
import { CgroupCleaner } from './cgroups';

// plain directories stand in for cgroup hierarchies (rmdir works the same on empty ones)
describe('CgroupCleaner', () => {
  const tmp = tempDir('berth-cg-');
  after(() => tmp.remove());
  const hier = ['memory', 'cpu', 'pids', 'unified', 'systemd'];
  let n = 0;
  async function fakeRoot(dirs: string[]): Promise<string> {
    const root = path.join(tmp.path, `r${++n}`);
    for (const h of hier) for (const d of dirs) await fs.mkdir(path.join(root, h, d), { recursive: true });
    await fs.mkdir(root, { recursive: true });
    await fs.symlink('cpu', path.join(root, 'cpu,cpuacct'));
    return root;
  }

  test('removes the container dir in every hierarchy and the empty parents runc left', async () => {
    const root = await fakeRoot(['berth/pod1/c1/sub']);
    const c = new CgroupCleaner(root);
    assert.equal((await c.existing('/berth/pod1/c1')).length, hier.length);
    await c.remove('/berth/pod1/c1');
    for (const h of hier) assert.ok(!existsSync(path.join(root, h, 'berth')), `${h}/berth removed`);
    assert.deepEqual(await c.existing('/berth/pod1/c1'), []);
  });

  test('keeps parents that still hold other containers', async () => {
    const root = await fakeRoot(['berth/pod1/c1', 'berth/pod1/c2']);
    const c = new CgroupCleaner(root);
    await c.remove('/berth/pod1/c1');
    for (const h of hier) {
      assert.ok(!existsSync(path.join(root, h, 'berth/pod1/c1')));
      assert.ok(existsSync(path.join(root, h, 'berth/pod1/c2')));
    }
  });

  test('removePod sweeps a pod subtree and an empty parent', async () => {
    const root = await fakeRoot(['berth/pod9/a', 'berth/pod9/b/x']);
    const c = new CgroupCleaner(root);
    await c.removePod('pod9');
    for (const h of hier) assert.ok(!existsSync(path.join(root, h, 'berth')));
  });

  test('refuses paths outside its parent', async () => {
    const c = new CgroupCleaner(await fakeRoot([]));
    await assert.rejects(c.remove('/system.slice/x'), /not under \/berth/);
    await assert.rejects(c.remove('/berth'), /not under \/berth/);
    await assert.rejects(c.remove('/berth/../etc'), /not under \/berth/);
    await assert.rejects(c.removePod('../x'), /bad pod UID/);
  });

  test('oomKills reads the v1 memory.oom_control counter', async () => {
    const root = await fakeRoot(['berth/p/c']);
    await fs.writeFile(
      path.join(root, 'memory/berth/p/c/memory.oom_control'),
      'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
    );
    const c = new CgroupCleaner(root);
    assert.equal(await c.oomKills('/berth/p/c'), 2);
    assert.equal(await c.oomKills('/berth/p/none'), 0);
  });
});
