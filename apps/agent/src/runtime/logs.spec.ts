import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempDir } from '@berth/testing';
import { LogReader, parseCriLine, parseCriLog, previousLogPath, type LogEntry } from './logs';

const T = '2026-11-27T20:53:41.849677447+00:00';

describe('parseCriLine', () => {
  test('full and partial lines', () => {
    assert.deepEqual(parseCriLine(`${T} stdout F hello world`), {
      time: T,
      stream: 'stdout',
      partial: false,
      content: 'hello world',
    });
    assert.equal(parseCriLine(`${T} stderr P abc`)?.partial, true);
    assert.equal(parseCriLine(`${T} stdout F `)?.content, '');
    assert.equal(parseCriLine(`${T} stdout F`)?.content, '');
  });
  test('rejects lines that are not CRI', () => {
    assert.equal(parseCriLine('hello'), undefined);
    assert.equal(parseCriLine(`${T} stdin F x`), undefined);
    assert.equal(parseCriLine(`${T} stdout X x`), undefined);
  });
  test('partial pieces join the next full line of the same stream', () => {
    const text = [`${T} stdout P ab`, `${T} stderr F err`, `${T} stdout P cd`, `${T} stdout F ef`, ''].join(
      '\n',
    );
    assert.deepEqual(
      parseCriLog(text).map((e) => `${e.stream}:${e.line}`),
      ['stderr:err', 'stdout:abcdef'],
    );
  });
});

async function collect(it: AsyncIterable<LogEntry>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of it) out.push(e.line);
  return out;
}

const lines = (...xs: string[]) => xs.map((x) => `${T} stdout F ${x}\n`).join('');

describe('LogReader', () => {
  const tmp = tempDir('berth-logs-');
  after(() => tmp.remove());
  const reader = new LogReader();

  test('reads all lines, the last N, and the previous run', async () => {
    const f = path.join(tmp.path, 'a.log');
    await fs.writeFile(f, lines('1', '2', '3'));
    await fs.writeFile(previousLogPath(f), lines('old'));
    assert.deepEqual(await collect(reader.read(f)), ['1', '2', '3']);
    assert.deepEqual(await collect(reader.read(f, { tail: 2 })), ['2', '3']);
    assert.deepEqual(await collect(reader.read(f, { tail: 0 })), []);
    assert.deepEqual(await collect(reader.read(f, { previous: true })), ['old']);
  });

  test('a missing log is an error unless following', async () => {
    await assert.rejects(collect(reader.read(path.join(tmp.path, 'none.log'))), /ENOENT/);
  });

  test('follow yields appended lines, survives the file being replaced, and stops when told', async () => {
    const f = path.join(tmp.path, 'b.log');
    await fs.writeFile(f, lines('first'));
    const ac = new AbortController();
    const got: string[] = [];
    let done = false;
    const reading = (async () => {
      for await (const e of reader.read(f, { follow: true, signal: ac.signal, pollMs: 20 })) {
        got.push(e.line);
        if (e.line === 'after-replace') ac.abort();
      }
      done = true;
    })();
    const waitFor = async (n: number) => {
      while (got.length < n) await new Promise((r) => setTimeout(r, 10));
    };
    await waitFor(1);
    await fs.appendFile(f, `${T} stdout P half-\n`);
    await fs.appendFile(f, lines('line'));
    await waitFor(2);
    // the monitor truncates by replacing the file
    await fs.writeFile(`${f}.tmp`, lines('after-replace'));
    await fs.rename(`${f}.tmp`, f);
    await reading;
    assert.ok(done);
    assert.deepEqual(got, ['first', 'half-line', 'after-replace']);
  });

  test('follow ends when until() says the container is done and the file is read', async () => {
    const f = path.join(tmp.path, 'c.log');
    await fs.writeFile(f, lines('a'));
    let finished = false;
    const reading = collect(reader.read(f, { follow: true, until: () => finished, pollMs: 20 }));
    await fs.appendFile(f, lines('b'));
    finished = true;
    assert.deepEqual(await reading, ['a', 'b']);
  });
});
