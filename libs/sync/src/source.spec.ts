import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseLabelSelector } from '@berth/api';
import { SourceMissingError, SourceReader } from './source';

const cm = (name: string, extra = '') =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${extra}data:\n  k: v\n`;

describe('SourceReader', () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'berth-source-'));
  after(() => rmSync(base, { recursive: true, force: true }));

  function dir(name: string, files: Record<string, string>): string {
    const root = path.join(base, name);
    for (const [f, body] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      writeFileSync(path.join(root, f), body);
    }
    return root;
  }

  test('objects of every good file, namespaces defaulted; a broken file reports file:line and contributes nothing', async () => {
    const root = dir('a', {
      'a.yaml': cm('one') + '---\n' + cm('two'),
      'sub/b.yml': cm('three', '  namespace: other\n'),
      'sub/bad.yaml': cm('four') + '---\n' + 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n',
      'broken.json': '{"apiVersion": "v1", "kind": ',
      'generated.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: x-\n',
      '.hidden.yaml': cm('hidden'),
      'notes.txt': 'not a manifest',
    });
    const src = await new SourceReader(root, { namespace: 'team' }).read();
    assert.deepEqual(
      src.objects.map((o) => [o.file, o.object.metadata.namespace, o.object.metadata.name]),
      [
        ['a.yaml', 'team', 'one'],
        ['a.yaml', 'team', 'two'],
        ['sub/b.yml', 'other', 'three'],
      ],
    );
    assert.deepEqual(src.brokenFiles.sort(), ['broken.json', 'generated.yaml', 'sub/bad.yaml']);
    assert.equal(src.errors.length, 3);
    assert.match(
      src.errors.find((e) => e.startsWith('generated.yaml'))!,
      /^generated\.yaml:3:\d+: metadata\.name: required: .*generateName "x-"/,
    );
    assert.match(
      src.errors.find((e) => e.startsWith('sub/bad.yaml'))!,
      /^sub\/bad\.yaml:\d+:\d+: metadata\.name: /,
    );
    assert.match(
      src.errors.find((e) => e.startsWith('broken.json'))!,
      /^broken\.json:1:\d+: /,
    );
    assert.equal(src.files.find((f) => f.file === 'a.yaml')!.digest.length, 64);
  });

  test('an explicit -n that an object contradicts is an error of its file; -l filters objects', async () => {
    const root = dir('b', {
      'x.yaml': cm('cx', '  namespace: other\n'),
      'y.yaml': cm('cy', '  labels: {tier: web}\n'),
    });
    const src = await new SourceReader(root, { namespace: 'team', namespaceFlag: 'team' }).read();
    assert.deepEqual(src.brokenFiles, ['x.yaml']);
    assert.match(src.errors[0], /^x\.yaml:\d+:\d+: metadata\.namespace: .*"other".*"team"/);
    const sel = await new SourceReader(root, {
      namespace: 'team',
      selector: parseLabelSelector('tier=web'),
    }).read();
    assert.deepEqual(
      sel.objects.map((o) => o.object.metadata.name),
      ['cy'],
    );
  });

  test('unchanged files are not parsed again; a changed one is', async () => {
    const root = dir('c', { 'x.yaml': cm('cx'), 'y.yaml': cm('cy') });
    const reader = new SourceReader(root, { namespace: 'default' });
    const first = await reader.read();
    writeFileSync(path.join(root, 'y.yaml'), cm('cy2'));
    const second = await reader.read();
    // The cached file's objects are the very same objects; the changed file's are new.
    assert.equal(second.objects[0].object, first.objects[0].object);
    assert.notEqual(second.objects[1].object, first.objects[1].object);
    assert.equal(second.objects[1].object.metadata.name, 'cy2');
    rmSync(path.join(root, 'x.yaml'));
    assert.deepEqual(
      (await reader.read()).objects.map((o) => o.object.metadata.name),
      ['cy2'],
    );
  });

  test('a directory that does not exist (or vanished) is a SourceMissingError, not an empty source', async () => {
    const root = dir('d', { 'x.yaml': cm('x') });
    const reader = new SourceReader(root, { namespace: 'default' });
    await reader.read();
    rmSync(root, { recursive: true });
    await assert.rejects(reader.read(), SourceMissingError);
    await assert.rejects(
      new SourceReader(path.join(root, 'x.yaml'), { namespace: 'default' }).read(),
      SourceMissingError,
    );
  });
});
