import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { contentRevision, gitHead } from './revision';

describe('sync revision', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-rev-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const sha = 'a'.repeat(40);
  const sha2 = 'b'.repeat(40);

  test('git HEAD through a loose ref, packed-refs, a detached HEAD, from a subdirectory', async () => {
    const repo = path.join(dir, 'repo');
    mkdirSync(path.join(repo, '.git', 'refs', 'heads'), { recursive: true });
    mkdirSync(path.join(repo, 'manifests', 'app'), { recursive: true });
    writeFileSync(path.join(repo, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(path.join(repo, '.git', 'refs', 'heads', 'main'), `${sha}\n`);
    assert.equal(await gitHead(path.join(repo, 'manifests', 'app')), sha);
    rmSync(path.join(repo, '.git', 'refs', 'heads', 'main'));
    writeFileSync(
      path.join(repo, '.git', 'packed-refs'),
      `# pack-refs with: peeled\n${sha2} refs/heads/main\n`,
    );
    assert.equal(await gitHead(repo), sha2);
    writeFileSync(path.join(repo, '.git', 'HEAD'), `${sha}\n`);
    assert.equal(await gitHead(repo), sha);
  });

  test('no git checkout: undefined', async () => {
    const plain = path.join(dir, 'plain');
    mkdirSync(plain);
    // The temp dir itself is not inside a repository on this machine's /tmp.
    assert.equal(await gitHead(plain), undefined);
  });

  test('the content revision changes with a file content or name, not with listing order', () => {
    const a = { path: 'a.yaml', content: 'kind: ConfigMap\n' };
    const b = { path: 'b.yaml', content: 'kind: Secret\n' };
    assert.equal(contentRevision([a, b]), contentRevision([b, a]));
    assert.match(contentRevision([a, b]), /^sha256:[0-9a-f]{64}$/);
    assert.notEqual(contentRevision([a, b]), contentRevision([a, { ...b, content: 'kind: Secret \n' }]));
    assert.notEqual(contentRevision([a, b]), contentRevision([a, { ...b, path: 'c.yaml' }]));
  });
});
