import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { manifestFiles } from './files';

describe('manifestFiles', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-files-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('yaml/yml/json only, hidden and editor files skipped, symlinks followed, loops stopped', async () => {
    const root = path.join(dir, 'src');
    mkdirSync(path.join(root, 'app', 'nested'), { recursive: true });
    mkdirSync(path.join(root, '.git'));
    const outside = path.join(dir, 'outside');
    mkdirSync(outside);
    for (const f of [
      'ns.yaml',
      'app/web.yml',
      'app/nested/cm.json',
      'README.md',
      '.hidden.yaml',
      'app/.web.yml.swp',
      'app/web.yml~',
      '.git/config.yaml',
      '../outside/linked.yaml',
    ])
      writeFileSync(path.join(root, f), 'kind: ConfigMap\n');
    symlinkSync(path.join(outside, 'linked.yaml'), path.join(root, 'link.yaml'));
    symlinkSync(path.join(root, 'nope.yaml'), path.join(root, 'dangling.yaml'));
    symlinkSync(outside, path.join(root, 'app', 'shared'));
    symlinkSync(root, path.join(root, 'app', 'loop'));
    const rel = (fs: string[]) => fs.map((f) => path.relative(root, f));
    assert.deepEqual(rel(await manifestFiles(root, false)), ['link.yaml', 'ns.yaml']);
    assert.deepEqual(rel(await manifestFiles(root, true)), [
      'app/nested/cm.json',
      'app/shared/linked.yaml',
      'app/web.yml',
      'link.yaml',
      'ns.yaml',
    ]);
  });
});
