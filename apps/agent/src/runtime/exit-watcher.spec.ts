import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempDir } from '@berth/testing';
import { ExitWatcher, type ExitEvent } from './exit-watcher';

function next(w: ExitWatcher, id: string): Promise<ExitEvent> {
  return new Promise((resolve) => {
    const on = (e: ExitEvent) => {
      if (e.id !== id) return;
      w.off('exit', on);
      resolve(e);
    };
    w.on('exit', on);
  });
}

describe('ExitWatcher', () => {
  const tmp = tempDir('berth-exits-');
  after(() => tmp.remove());

  test('the first scan reports exits written while nobody watched', async () => {
    const dir = path.join(tmp.path, 'a');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'old'), '3');
    const w = new ExitWatcher(dir, { pollMs: 3_600_000 });
    const got = next(w, 'old');
    await w.start();
    const ev = await got;
    w.stop();
    assert.equal(ev.exitCode, 3);
    assert.equal(ev.exitedAt.getTime(), (await fs.stat(path.join(dir, 'old'))).mtime.getTime());
  });

  test('a new exit file is reported by the directory watch (no polling), once', async () => {
    const dir = path.join(tmp.path, 'b');
    const w = new ExitWatcher(dir, { pollMs: 3_600_000 });
    await w.start();
    const seen: ExitEvent[] = [];
    w.on('exit', (e) => seen.push(e));
    const got = next(w, 'c1');
    // written in two steps, as a writer without rename does: empty first, code later
    const fh = await fs.open(path.join(dir, 'c1'), 'w');
    await new Promise((r) => setTimeout(r, 30));
    await fh.write('137');
    await fh.close();
    assert.equal((await got).exitCode, 137);
    await w.scan();
    w.stop();
    assert.equal(seen.filter((e) => e.id === 'c1').length, 1);
  });

  test('forget re-arms an id so the next run of the container is reported again', async () => {
    const dir = path.join(tmp.path, 'c');
    const w = new ExitWatcher(dir, { pollMs: 3_600_000 });
    await w.start();
    let got = next(w, 'r');
    await fs.writeFile(path.join(dir, 'r'), '1');
    assert.equal((await got).exitCode, 1);
    w.forget('r');
    got = next(w, 'r');
    await w.scan();
    assert.equal((await got).exitCode, 1);
    w.stop();
  });

  test('start twice keeps one watch', async () => {
    const dir = path.join(tmp.path, 'd');
    const w = new ExitWatcher(dir, { pollMs: 3_600_000 });
    await w.start();
    await w.start();
    const seen: string[] = [];
    w.on('exit', (e) => seen.push(e.id));
    const got = next(w, 'x');
    await fs.writeFile(path.join(dir, 'x'), '0');
    await got;
    await new Promise((r) => setTimeout(r, 50));
    w.stop();
    assert.deepEqual(seen, ['x']);
  });
});
