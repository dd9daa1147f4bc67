import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AgentServer, parseLogQuery } from './agent-server';

describe('agent endpoint', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-srv-'));
  const log = path.join(dir, 'c.log');
  let running = true;
  let srv: AgentServer;
  let url: string;
  const auth = { authorization: 'Bearer s3cret' };

  before(async () => {
    writeFileSync(
      log,
      '2026-01-01T00:00:00Z stdout F one\n2026-01-01T00:00:01Z stderr F two\n2026-01-01T00:00:02Z stdout P thr\n2026-01-01T00:00:02Z stdout F ee\n',
    );
    writeFileSync(`${log}.1`, '2026-01-01T00:00:00Z stdout F old run\n');
    srv = new AgentServer({
      token: 's3cret',
      log: { warn: () => undefined },
      images: async () => [{ names: ['busybox'] }],
      findContainer: (ns, pod, c) => {
        if (ns === 'default' && pod === 'p' && (c === 'main' || c === undefined))
          return { logPath: log, running: () => running };
        if (pod === 'multi' && !c) return { code: 400, error: 'a container name must be specified' };
        return undefined;
      },
    });
    url = `http://127.0.0.1:${await srv.listen('127.0.0.1', 0)}`;
  });
  after(async () => {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('healthz needs no token; everything else does', async () => {
    assert.equal(await (await fetch(`${url}/healthz`)).text(), 'ok');
    assert.equal((await fetch(`${url}/containerLogs/default/p/main`)).status, 401);
    assert.equal((await fetch(`${url}/images`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    const imgs = await fetch(`${url}/images`, { headers: auth });
    assert.deepEqual(await imgs.json(), { images: [{ names: ['busybox'] }] });
  });

  test('logs as plain text, joined partial lines, tailLines, previous; unknown pods are 404; bad params 400', async () => {
    const r = await fetch(`${url}/containerLogs/default/p/main`, { headers: auth });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'one\ntwo\nthree\n');
    assert.equal(
      await (await fetch(`${url}/containerLogs/default/p/main?tailLines=1`, { headers: auth })).text(),
      'three\n',
    );
    assert.equal(
      await (
        await fetch(`${url}/containerLogs/default/p/main?tailLines=1&timestamps=true`, { headers: auth })
      ).text(),
      '2026-01-01T00:00:02Z three\n',
    );
    assert.equal(
      await (await fetch(`${url}/containerLogs/default/p/main?previous=true`, { headers: auth })).text(),
      'old run\n',
    );
    assert.equal((await fetch(`${url}/containerLogs/default/nope/main`, { headers: auth })).status, 404);
    assert.equal((await fetch(`${url}/containerLogs/default/multi`, { headers: auth })).status, 400);
    const bad = await fetch(`${url}/containerLogs/default/p/main?tailLines=x`, { headers: auth });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { message: string }).message, /tailLines must be a whole number/);
  });

  test('follow streams new lines and ends when the container stops', async () => {
    running = true;
    const res = await fetch(`${url}/containerLogs/default/p/main?follow=true`, { headers: auth });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let text = '';
    appendFileSync(log, '2026-01-01T00:00:03Z stdout F four\n');
    while (!text.includes('four\n')) {
      const r = await reader.read();
      assert.equal(r.done, false, 'the stream stays open while the container runs');
      text += Buffer.from(r.value!).toString();
    }
    appendFileSync(log, '2026-01-01T00:00:04Z stdout F five\n');
    running = false;
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      text += Buffer.from(r.value).toString();
    }
    assert.equal(text, 'one\ntwo\nthree\nfour\nfive\n');
  });

  test('parseLogQuery', () => {
    assert.deepEqual(parseLogQuery(new URLSearchParams('follow=true&tailLines=5')), {
      follow: true,
      previous: false,
      timestamps: false,
      tailLines: 5,
    });
    assert.throws(() => parseLogQuery(new URLSearchParams('follow=maybe')), /follow must be true or false/);
  });
});
