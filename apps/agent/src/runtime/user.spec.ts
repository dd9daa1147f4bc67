import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempDir } from '@berth/testing';
import { resolveUserFrom, resolveUser, readFileInRoot } from './user';

const passwd =
  'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n';
const group = 'root:x:0:\nwww:x:33:\napp:x:1000:\nvideo:x:44:app,www\naudio:x:29:app\n';

describe('resolveUserFrom', () => {
  test('no user: root', () =>
    assert.deepEqual(resolveUserFrom({ passwd, group }, undefined), { uid: 0, gid: 0 }));
  test('a name gives its uid, primary gid and supplementary groups', () =>
    assert.deepEqual(resolveUserFrom({ passwd, group }, 'app'), {
      uid: 1000,
      gid: 1000,
      additionalGids: [44, 29],
    }));
  test('a numeric uid takes the primary group from passwd, or 0 when unknown', () => {
    assert.deepEqual(resolveUserFrom({ passwd, group }, '33'), { uid: 33, gid: 33, additionalGids: [44] });
    assert.deepEqual(resolveUserFrom({}, '4242'), { uid: 4242, gid: 0 });
  });
  test('user:group by name or number', () => {
    assert.equal(resolveUserFrom({ passwd, group }, 'app:video').gid, 44);
    assert.equal(resolveUserFrom({ passwd, group }, '1000:7').gid, 7);
  });
  test('runAsUser and runAsGroup override the image user', () => {
    assert.deepEqual(resolveUserFrom({ passwd, group }, 'app', 33, 5), {
      uid: 33,
      gid: 5,
      additionalGids: [44],
    });
  });
  test('an unknown name is an error naming the user', () => {
    assert.throws(() => resolveUserFrom({ passwd, group }, 'nobody'), /user "nobody" not found/);
    assert.throws(() => resolveUserFrom({ passwd, group }, 'app:nogroup'), /group "nogroup" not found/);
  });
});

describe('resolveUser (reads the rootfs)', () => {
  const tmp = tempDir('berth-user-');
  after(() => tmp.remove());
  test('reads /etc/passwd inside the rootfs and never follows a link out of it', async () => {
    const root = path.join(tmp.path, 'root');
    await fs.mkdir(path.join(root, 'etc'), { recursive: true });
    await fs.mkdir(path.join(root, 'real'), { recursive: true });
    await fs.writeFile(path.join(root, 'real', 'passwd'), passwd);
    // absolute link: must resolve against the rootfs, not the host
    await fs.symlink('/real/passwd', path.join(root, 'etc', 'passwd'));
    await fs.writeFile(path.join(tmp.path, 'hostgroup'), 'evil:x:1:app\n');
    await fs.symlink('../../../hostgroup', path.join(root, 'etc', 'group'));
    assert.deepEqual(await resolveUser(root, 'app'), { uid: 1000, gid: 1000 });
    assert.equal(await readFileInRoot(root, '/etc/group'), undefined);
  });
});
