import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError } from './errors';
import { applyOrder, collectFiles, readManifests } from './manifests';

const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;

describe('collectFiles', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'berth-files-'));
    writeFileSync(path.join(dir, 'b.yaml'), cm('b'));
    writeFileSync(path.join(dir, 'a.yml'), cm('a'));
    writeFileSync(
      path.join(dir, 'c.json'),
      JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }),
    );
    writeFileSync(path.join(dir, 'README.md'), '# not a manifest');
    writeFileSync(path.join(dir, '.hidden.yaml'), cm('hidden'));
    mkdirSync(path.join(dir, 'sub'));
    writeFileSync(path.join(dir, 'sub', 'd.yaml'), cm('d'));
    mkdirSync(path.join(dir, '.git'));
    writeFileSync(path.join(dir, '.git', 'e.yaml'), cm('e'));
    symlinkSync(path.join(dir, 'b.yaml'), path.join(dir, 'link.yaml'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a directory gives its manifest files sorted, hidden ones and other extensions skipped', async () => {
    const files = await collectFiles([dir], false);
    assert.deepEqual(
      files.map((f) => path.relative(dir, f)),
      ['a.yml', 'b.yaml', 'c.json', 'link.yaml'],
    );
  });

  test('-R descends into subdirectories but not hidden ones', async () => {
    const files = await collectFiles([dir], true);
    assert.deepEqual(
      files.map((f) => path.relative(dir, f)),
      ['a.yml', 'b.yaml', 'c.json', 'link.yaml', 'sub/d.yaml'],
    );
  });

  test('a file is taken as given (any extension); - is stdin; a missing path is an error', async () => {
    const readme = path.join(dir, 'README.md');
    assert.deepEqual(await collectFiles([readme, '-'], false), [readme, '-']);
    await assert.rejects(collectFiles([path.join(dir, 'nope.yaml')], false), (e: unknown) => {
      assert.ok(e instanceof CliError);
      assert.match(e.message, /nope\.yaml" does not exist/);
      return true;
    });
  });

  test('readManifests reads stdin and files; an unreadable file is a failure with file:line:col', async () => {
    const bad = path.join(dir, 'sub', 'bad.yaml');
    writeFileSync(bad, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n');
    const { manifests, failures } = await readManifests([path.join(dir, 'a.yml'), bad, '-'], async () =>
      cm('in'),
    );
    assert.deepEqual(
      manifests.map((m) => `${m.file}:${m.object.metadata.name}`),
      [`${path.join(dir, 'a.yml')}:a`, '<stdin>:in'],
    );
    assert.equal(failures.length, 1);
    assert.match(
      failures[0].message,
      new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: invalid YAML`),
    );
    rmSync(bad);
  });
});

describe('applyOrder', () => {
  test('Namespaces, ConfigMaps and Secrets go first, the rest keep file order', () => {
    const o = (kind: string, name: string) => ({ object: { kind, name } });
    const sorted = applyOrder([
      o('Deployment', 'd1'),
      o('Secret', 's1'),
      o('Pod', 'p1'),
      o('ConfigMap', 'c1'),
      o('Namespace', 'n1'),
      o('Deployment', 'd2'),
      o('Namespace', 'n2'),
    ]);
    assert.deepEqual(
      sorted.map((x) => x.object.name),
      ['n1', 'n2', 'c1', 's1', 'd1', 'p1', 'd2'],
    );
  });
});
