import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { ApiError, KINDS, type KindInfo, type KubeObject, type WatchEvent } from '@berth/api';
import { EmbeddedRedis, RedisStore } from '@berth/store';
import { TestRedis, tempDir } from '@berth/testing';

const POD = KINDS.find((k) => k.kind === 'Pod') as KindInfo;

function pod(name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
  };
}

/** Retries fn until it stops throwing ServiceUnavailable (Redis coming back), for at most timeoutMs. */
async function eventually<T>(fn: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      const unavailable = e instanceof ApiError && e.reason === 'ServiceUnavailable';
      if (!unavailable || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function unavailable(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.reason, 'ServiceUnavailable', e.message);
    assert.equal(e.code, 503);
    assert.match(e.message, /^storage is unavailable: /);
    return e;
  }
  assert.fail('expected ServiceUnavailable');
}

async function drain(
  it: AsyncIterator<WatchEvent>,
  until: (e: WatchEvent) => boolean,
): Promise<WatchEvent[]> {
  const seen: WatchEvent[] = [];
  for (;;) {
    const r = await it.next();
    if (r.done) throw new Error('watch ended');
    seen.push(r.value);
    if (until(r.value)) return seen;
  }
}

describe('RedisStore when Redis crashes or restarts', () => {
  let redis: TestRedis;
  let store: RedisStore;

  before(async () => {
    redis = await TestRedis.start();
    store = new RedisStore(redis.url, { keyPrefix: 'dur:', watchBlockMs: 300 });
  });
  after(async () => {
    await store?.close();
    await redis?.stop();
  });

  test('an acknowledged create survives kill -9 of redis-server', async () => {
    const created = await store.create(POD, pod('durable'));
    await redis.kill9();
    await redis.restart();
    const got = await eventually(() => store.get(POD, 'default', 'durable'));
    assert.deepEqual(got, created);
    assert.equal(await store.currentRevision(), created.metadata.resourceVersion);
  });

  test('with Redis down every call fails with ServiceUnavailable, and the store recovers when it returns', async () => {
    await eventually(() => store.get(POD, 'default', 'durable'));
    await redis.kill9();
    await unavailable(store.get(POD, 'default', 'durable'));
    await unavailable(store.create(POD, pod('while-down')));
    await unavailable(store.list(POD));
    await unavailable(store.currentRevision());
    const ac = new AbortController();
    await unavailable(store.watch(POD, {}, ac.signal)[Symbol.asyncIterator]().next());
    assert.equal(await store.ping(), false);
    await redis.restart();
    await eventually(() => store.create(POD, pod('after-restart')));
    assert.equal(await store.ping(), true);
    assert.equal((await store.list(POD)).items.length, 2);
  });

  test('across a Redis restart a watch either goes on or fails with ServiceUnavailable and resumes from its last revision; nothing is lost', async () => {
    await eventually(() => store.currentRevision());
    const ac = new AbortController();
    const start = await store.currentRevision();
    const it = store.watch(POD, { resourceVersion: start }, ac.signal)[Symbol.asyncIterator]();
    try {
      await store.create(POD, pod('before-outage'));
      const seen = await drain(it, (e) => e.object.metadata.name === 'before-outage');
      const last = seen[seen.length - 1].object.metadata.resourceVersion as string;
      await redis.restart();
      // The reader may notice the restart (every watcher fails with 503 and resumes from its last
      // revision) or reconnect between two XREADs and go on from its stream position: both are
      // correct; what must hold is that the next change arrives exactly once, in order.
      const pending = it.next();
      pending.catch(() => undefined);
      await eventually(() => store.create(POD, pod('after-outage')));
      let evs: WatchEvent[];
      try {
        const first = await pending;
        assert.equal(first.done, false);
        evs = [first.value];
        if (first.value.object.metadata.name !== 'after-outage')
          evs.push(...(await drain(it, (e) => e.object.metadata.name === 'after-outage')));
      } catch (e) {
        await unavailable(Promise.reject(e));
        const resumed = store.watch(POD, { resourceVersion: last }, ac.signal)[Symbol.asyncIterator]();
        evs = await drain(resumed, (ev) => ev.object.metadata.name === 'after-outage');
      }
      assert.deepEqual(
        evs.map((e) => `${e.type} ${e.object.metadata.name}`),
        ['ADDED after-outage'],
      );
    } finally {
      ac.abort();
    }
  });
});

describe('EmbeddedRedis', () => {
  const dir = tempDir('berth-emb-');
  let emb: EmbeddedRedis | undefined;
  let store: RedisStore | undefined;

  after(async () => {
    await store?.close();
    await emb?.stop();
    dir.remove();
  });

  test('starts redis-server on a private unix socket with AOF, restarts it after a crash, stops it', async () => {
    emb = new EmbeddedRedis({ dataDir: path.join(dir.path, 'redis'), restartDelayMs: 50 });
    await emb.start();
    assert.match(emb.url, /^unix:\/\//);
    const sock = path.join(dir.path, 'redis', 'redis.sock');
    assert.equal(statSync(sock).mode & 0o777, 0o700);
    const probe = new Redis(emb.connectionOptions);
    try {
      assert.deepEqual(await probe.config('GET', 'port'), ['port', '0']);
      assert.deepEqual(await probe.config('GET', 'appendonly'), ['appendonly', 'yes']);
      assert.deepEqual(await probe.config('GET', 'appendfsync'), ['appendfsync', 'always']);
    } finally {
      probe.disconnect();
    }

    store = new RedisStore(emb.url, { keyPrefix: 'emb:' });
    const created = await store.create(POD, pod('kept'));
    const firstPid = emb.pid as number;
    const back = new Promise<number>((resolve) => emb?.once('ready', resolve));
    process.kill(firstPid, 'SIGKILL');
    const newPid = await back;
    assert.notEqual(newPid, firstPid);
    assert.deepEqual(await eventually(() => (store as RedisStore).get(POD, 'default', 'kept')), created);

    await store.close();
    store = undefined;
    await emb.stop();
    assert.equal(emb.pid, undefined);
    assert.throws(() => process.kill(newPid, 0));
    assert.equal(existsSync(sock), false);
    assert.ok(existsSync(path.join(dir.path, 'redis', 'appendonlydir')));
  });

  test('a password is required when set, and the url carries it', async () => {
    const e = new EmbeddedRedis({ dataDir: path.join(dir.path, 'pw'), password: 's3cret' });
    try {
      await e.start();
      const anon = new Redis({
        ...e.connectionOptions,
        password: undefined,
        enableReadyCheck: false,
        protocol: 2,
      });
      anon.on('error', () => undefined);
      await assert.rejects(anon.ping(), /NOAUTH/);
      anon.disconnect();
      const s = new RedisStore(e.url, { keyPrefix: 'pw:' });
      try {
        assert.equal(await s.ping(), true);
      } finally {
        await s.close();
      }
    } finally {
      await e.stop();
    }
  });
});
