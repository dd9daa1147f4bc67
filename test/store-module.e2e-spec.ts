import 'reflect-metadata';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { KINDS, type KindInfo } from '@berth/api';
import { EMBEDDED_REDIS, EmbeddedRedis, RESOURCE_STORE, StoreModule, type ResourceStore } from '@berth/store';
import { TestRedis, tempDir } from '@berth/testing';

const CM = KINDS.find((k) => k.kind === 'ConfigMap') as KindInfo;

async function withApp<T>(
  options: Parameters<typeof StoreModule.forRoot>[0],
  fn: (get: <V>(t: symbol) => V) => Promise<T>,
) {
  @Module({ imports: [StoreModule.forRoot(options)] })
  class AppModule {}
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  try {
    return await fn(<V>(t: symbol) => app.get<V>(t));
  } finally {
    await app.close();
  }
}

describe('StoreModule', () => {
  const dir = tempDir('berth-storemod-');
  after(() => dir.remove());

  test('provides RESOURCE_STORE over an external Redis and closes it with the application', async () => {
    const redis = await TestRedis.start();
    try {
      let store!: ResourceStore;
      await withApp({ redisUrl: redis.url, keyPrefix: 'mod:' }, async (get) => {
        store = get<ResourceStore>(RESOURCE_STORE);
        assert.equal(get<EmbeddedRedis | null>(EMBEDDED_REDIS), null);
        const cm = await store.create(CM, {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'a', namespace: 'default' },
        });
        assert.equal((await store.get(CM, 'default', 'a')).metadata.uid, cm.metadata.uid);
      });
      assert.equal(await store.ping(), false);
    } finally {
      await redis.stop();
    }
  });

  test('without redisUrl starts an embedded redis-server and stops it at shutdown', async () => {
    let emb!: EmbeddedRedis;
    await withApp({ embedded: { dataDir: path.join(dir.path, 'redis') } }, async (get) => {
      emb = get<EmbeddedRedis>(EMBEDDED_REDIS);
      assert.ok(emb.pid);
      assert.equal(await get<ResourceStore>(RESOURCE_STORE).ping(), true);
    });
    assert.equal(emb.pid, undefined);
  });
});
