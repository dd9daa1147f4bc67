import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, KINDS, type KindInfo, type KubeObject, type WatchEvent } from '@berth/api';
import { RedisStore, type RedisStoreOptions } from '@berth/store';
import { TestRedis } from '@berth/testing';
import Redis from 'ioredis';

const kind = (k: string): KindInfo => KINDS.find((x) => x.kind === k) as KindInfo;
const POD = kind('Pod');
const NS = kind('Namespace');
const CM = kind('ConfigMap');
const DEPLOY = kind('Deployment');

let prefixN = 0;
const prefix = () => `t${process.pid}-${++prefixN}:`;

function pod(name: string, extra: Partial<KubeObject> = {}, ns = 'default'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, ...(extra.metadata ?? {}) },
    spec: { containers: [{ name: 'c', image: 'busybox' }], ...(extra.spec ?? {}) },
    ...(extra.status ? { status: extra.status } : {}),
  };
}

async function rejects(p: Promise<unknown>, reason: string, message?: RegExp | string): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ApiError, `expected ApiError, got ${String(e)}`);
    assert.equal(e.reason, reason, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return e;
  }
  assert.fail(`expected ${reason}`);
}

/** Reads watch events one at a time with a deadline, so a missing event fails instead of hanging. */
class Watcher {
  readonly ac = new AbortController();
  private it: AsyncIterator<WatchEvent>;
  constructor(store: RedisStore, k: KindInfo, opts: Parameters<RedisStore['watch']>[1]) {
    this.it = store.watch(k, opts, this.ac.signal)[Symbol.asyncIterator]();
  }
  /** The it.next() in flight: kept across timeouts so no event is lost to an abandoned call. */
  private pending: Promise<IteratorResult<WatchEvent>> | undefined;
  /** Starts the watch (the generator runs only when asked for an event). */
  prime(): void {
    this.pending ??= this.it.next();
    this.pending.catch(() => undefined);
  }
  async next(timeoutMs = 5000): Promise<WatchEvent> {
    this.prime();
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      t = setTimeout(() => rej(new Error(`no watch event within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const r = await Promise.race([this.pending as Promise<IteratorResult<WatchEvent>>, timeout]);
      this.pending = undefined;
      if (r.done) throw new Error('watch ended');
      return r.value;
    } catch (e) {
      if (!String(e).includes('no watch event')) this.pending = undefined;
      throw e;
    } finally {
      clearTimeout(t);
    }
  }
  /** Next non-BOOKMARK events. */
  async take(n: number, timeoutMs = 5000): Promise<WatchEvent[]> {
    const out: WatchEvent[] = [];
    while (out.length < n) {
      const ev = await this.next(timeoutMs);
      if (ev.type !== 'BOOKMARK') out.push(ev);
    }
    return out;
  }
  /** Resolves with no event seen for `ms` (bookmarks ignored); returns the events seen otherwise. */
  async quiet(ms: number): Promise<WatchEvent[]> {
    const seen: WatchEvent[] = [];
    const deadline = Date.now() + ms;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return seen;
      try {
        const ev = await this.next(left);
        if (ev.type !== 'BOOKMARK') seen.push(ev);
      } catch (e) {
        if (String(e).includes('no watch event')) return seen;
        throw e;
      }
    }
  }
  stop(): void {
    this.ac.abort();
    void this.it.return?.();
  }
}

const brief = (evs: WatchEvent[]) => evs.map((e) => `${e.type} ${e.object.metadata.name}`);

describe('RedisStore against a real redis-server', () => {
  let redis: TestRedis;
  const stores: RedisStore[] = [];
  const open = (opts: RedisStoreOptions = {}) => {
    const s = new RedisStore(redis.url, { keyPrefix: prefix(), watchBlockMs: 300, ...opts });
    stores.push(s);
    return s;
  };

  before(async () => {
    redis = await TestRedis.start();
  });
  after(async () => {
    for (const s of stores) await s.close();
    await redis?.stop();
  });

  test('create assigns uid, creationTimestamp, generation 1 and a resourceVersion; get returns it', async () => {
    const s = open();
    const created = await s.create(POD, pod('web', { metadata: { labels: { app: 'web' } } }));
    assert.match(created.metadata.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.match(created.metadata.creationTimestamp ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(created.metadata.generation, 1);
    assert.match(created.metadata.resourceVersion ?? '', /^\d+$/);
    assert.deepEqual(await s.get(POD, 'default', 'web'), created);
    assert.equal(await s.currentRevision(), created.metadata.resourceVersion);
  });

  test('a second create of the same name is 409 AlreadyExists; get of a missing object is 404', async () => {
    const s = open();
    await s.create(POD, pod('dup'));
    const e = await rejects(s.create(POD, pod('dup')), 'AlreadyExists', 'pods "dup" already exists');
    assert.equal(e.code, 409);
    const nf = await rejects(s.get(POD, 'default', 'nope'), 'NotFound', 'pods "nope" not found');
    assert.equal(nf.code, 404);
    await rejects(s.get(DEPLOY, 'default', 'nope'), 'NotFound', 'deployments.apps "nope" not found');
  });

  test('generateName gives the name plus 5 random characters', async () => {
    const s = open();
    const a = await s.create(POD, { ...pod(''), metadata: { generateName: 'web-', namespace: 'default' } });
    const b = await s.create(POD, { ...pod(''), metadata: { generateName: 'web-', namespace: 'default' } });
    assert.match(a.metadata.name ?? '', /^web-[a-z0-9]{5}$/);
    assert.notEqual(a.metadata.name, b.metadata.name);
    await rejects(
      s.create(POD, { ...pod(''), metadata: { namespace: 'default' } }),
      'Invalid',
      /metadata\.name/,
    );
  });

  test('creating in a namespace that does not exist is 404; default is created on first use', async () => {
    const s = open();
    await rejects(s.create(POD, pod('x', {}, 'missing')), 'NotFound', 'namespaces "missing" not found');
    await s.create(POD, pod('x'));
    const ns = await s.get(NS, undefined, 'default');
    assert.equal(ns.status?.phase, 'Active');
    await s.create(NS, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
    await s.create(POD, pod('x', {}, 'team'));
    assert.equal((await s.get(POD, 'team', 'x')).metadata.namespace, 'team');
  });

  test('creating in a namespace being deleted is Forbidden', async () => {
    const s = open();
    await s.create(NS, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'going', finalizers: ['x/y'] },
    });
    await s.delete(NS, undefined, 'going');
    await rejects(s.create(POD, pod('p', {}, 'going')), 'Forbidden', /being terminated/);
  });

  test('update with a stale resourceVersion is 409 Conflict; without one it applies to the latest', async () => {
    const s = open();
    const v1 = await s.create(POD, pod('cas'));
    const v2 = await s.update(POD, { ...v1, metadata: { ...v1.metadata, labels: { a: '1' } } });
    assert.ok(Number(v2.metadata.resourceVersion) > Number(v1.metadata.resourceVersion));
    await rejects(
      s.update(POD, { ...v1, metadata: { ...v1.metadata, labels: { a: '2' } } }),
      'Conflict',
      'Operation cannot be fulfilled on pods "cas": the object has been modified; please apply your changes to the latest version and try again',
    );
    const noRv = structuredClone(v1);
    delete noRv.metadata.resourceVersion;
    noRv.metadata.labels = { a: '3' };
    const v3 = await s.update(POD, noRv);
    assert.deepEqual(v3.metadata.labels, { a: '3' });
    assert.equal((await s.get(POD, 'default', 'cas')).metadata.resourceVersion, v3.metadata.resourceVersion);
  });

  test('update keeps uid, creationTimestamp, name and namespace; a different uid is 409', async () => {
    const s = open();
    const v1 = await s.create(POD, pod('imm'));
    const changed = structuredClone(v1);
    changed.metadata.creationTimestamp = '2000-01-01T00:00:00Z';
    changed.metadata.generation = 99;
    changed.metadata.labels = { x: 'y' };
    const v2 = await s.update(POD, changed);
    assert.equal(v2.metadata.uid, v1.metadata.uid);
    assert.equal(v2.metadata.creationTimestamp, v1.metadata.creationTimestamp);
    assert.equal(v2.metadata.generation, 1);
    const wrongUid = structuredClone(v2);
    wrongUid.metadata.uid = '00000000-0000-0000-0000-000000000000';
    await rejects(s.update(POD, wrongUid), 'Conflict', /UID in precondition/);
    await rejects(s.update(POD, pod('ghost')), 'NotFound', 'pods "ghost" not found');
  });

  test('an update that changes nothing returns the stored object without a new revision', async () => {
    const s = open();
    const v1 = await s.create(POD, pod('same', { metadata: { labels: { a: '1' } } }));
    const before = await s.currentRevision();
    const again = await s.update(POD, structuredClone(v1));
    assert.deepEqual(again, v1);
    assert.equal(await s.currentRevision(), before);
  });

  test('generation rises only when spec (or, for ConfigMap, data) changes', async () => {
    const s = open();
    const v1 = await s.create(POD, pod('gen'));
    const labels = await s.update(POD, { ...v1, metadata: { ...v1.metadata, labels: { l: '1' } } });
    assert.equal(labels.metadata.generation, 1);
    const spec = await s.update(POD, { ...labels, spec: { ...labels.spec, nodeName: 'n1' } });
    assert.equal(spec.metadata.generation, 2);
    const status = await s.update(POD, { ...spec, status: { phase: 'Running' } }, { subresource: 'status' });
    assert.equal(status.metadata.generation, 2);
    const cm = await s.create(CM, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cfg', namespace: 'default' },
      data: { a: '1' },
    });
    const cmAnn = await s.update(CM, { ...cm, metadata: { ...cm.metadata, annotations: { n: 'x' } } });
    assert.equal(cmAnn.metadata.generation, 1);
    const cm2 = await s.update(CM, { ...cmAnn, data: { a: '2' } });
    assert.equal(cm2.metadata.generation, 2);
  });

  test('the status subresource changes only .status; the main resource never changes .status', async () => {
    const s = open();
    const v1 = await s.create(POD, pod('st', { status: { phase: 'Pending' } }));
    const st = await s.update(
      POD,
      {
        ...v1,
        metadata: { ...v1.metadata, labels: { sneaky: '1' } },
        spec: { containers: [] },
        status: { phase: 'Running' },
      },
      { subresource: 'status' },
    );
    assert.equal(st.status?.phase, 'Running');
    assert.deepEqual(st.spec, v1.spec);
    assert.equal(st.metadata.labels, undefined);
    const main = await s.update(POD, {
      ...st,
      spec: { ...st.spec, nodeName: 'n2' },
      status: { phase: 'Failed' },
    });
    assert.equal(main.status?.phase, 'Running');
    assert.equal(main.spec?.nodeName, 'n2');
    assert.equal((await s.get(POD, 'default', 'st')).status?.phase, 'Running');
  });

  test('two concurrent updates from the same resourceVersion: exactly one wins, the other is 409', async () => {
    const s = open();
    const s2 = open({ keyPrefix: s.keys.prefix });
    const v1 = await s.create(POD, pod('race'));
    const results = await Promise.allSettled(
      [s, s2, s, s2].map((st, i) =>
        st.update(POD, { ...v1, metadata: { ...v1.metadata, labels: { w: String(i) } } }),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 3);
    for (const l of lost) assert.equal(((l as PromiseRejectedResult).reason as ApiError).reason, 'Conflict');
    const winner = (won[0] as PromiseFulfilledResult<KubeObject>).value;
    assert.deepEqual(await s.get(POD, 'default', 'race'), winner);
  });

  test('delete with finalizers sets deletionTimestamp; removing the last finalizer removes the object', async () => {
    const s = open();
    const v1 = await s.create(POD, pod('fin', { metadata: { finalizers: ['berth.dev/hold'] } }));
    const w = new Watcher(s, POD, { resourceVersion: v1.metadata.resourceVersion });
    try {
      const marked = await s.delete(POD, 'default', 'fin');
      assert.match(marked.metadata.deletionTimestamp ?? '', /Z$/);
      assert.equal(marked.metadata.deletionGracePeriodSeconds, 0);
      assert.ok((await s.get(POD, 'default', 'fin')).metadata.deletionTimestamp);
      const again = await s.delete(POD, 'default', 'fin');
      assert.equal(again.metadata.resourceVersion, marked.metadata.resourceVersion);
      const tryClear = structuredClone(marked);
      delete tryClear.metadata.deletionTimestamp;
      tryClear.metadata.labels = { still: 'here' };
      const kept = await s.update(POD, tryClear);
      assert.equal(kept.metadata.deletionTimestamp, marked.metadata.deletionTimestamp);
      const gone = await s.update(POD, { ...kept, metadata: { ...kept.metadata, finalizers: [] } });
      assert.ok(Number(gone.metadata.resourceVersion) > Number(kept.metadata.resourceVersion));
      await rejects(s.get(POD, 'default', 'fin'), 'NotFound');
      const evs = await w.take(3);
      assert.deepEqual(
        evs.map((e) => e.type),
        ['MODIFIED', 'MODIFIED', 'DELETED'],
      );
      assert.equal(evs[2].object.metadata.resourceVersion, gone.metadata.resourceVersion);
      assert.equal((await s.list(POD, { namespace: 'default' })).items.length, 0);
    } finally {
      w.stop();
    }
  });

  test('delete without finalizers removes the object and returns its last state with a new revision', async () => {
    const s = open();
    const v1 = await s.create(POD, pod('del'));
    await rejects(
      s.delete(POD, 'default', 'del', { preconditions: { uid: 'other' } }),
      'Conflict',
      /UID in precondition/,
    );
    await rejects(
      s.delete(POD, 'default', 'del', { preconditions: { resourceVersion: '1' } }),
      'Conflict',
      /ResourceVersion in precondition/,
    );
    const last = await s.delete(POD, 'default', 'del', { preconditions: { uid: v1.metadata.uid } });
    assert.equal(last.metadata.uid, v1.metadata.uid);
    assert.ok(Number(last.metadata.resourceVersion) > Number(v1.metadata.resourceVersion));
    await rejects(s.get(POD, 'default', 'del'), 'NotFound');
    await rejects(s.delete(POD, 'default', 'del'), 'NotFound', 'pods "del" not found');
  });

  test('dryRun create, update and delete validate but write nothing', async () => {
    const s = open();
    const v1 = await s.create(POD, pod('dry'));
    const rev = await s.currentRevision();
    const c = await s.create(POD, pod('dry2'), { dryRun: true });
    assert.equal(c.metadata.name, 'dry2');
    await rejects(s.create(POD, pod('dry'), { dryRun: true }), 'AlreadyExists');
    const u = await s.update(POD, { ...v1, spec: { containers: [], nodeName: 'n' } }, { dryRun: true });
    assert.equal(u.metadata.generation, 2);
    await rejects(
      s.update(POD, { ...v1, metadata: { ...v1.metadata, resourceVersion: '1' } }, { dryRun: true }),
      'Conflict',
    );
    await s.delete(POD, 'default', 'dry', { dryRun: true });
    assert.equal(await s.currentRevision(), rev);
    assert.deepEqual(await s.get(POD, 'default', 'dry'), v1);
    await rejects(s.get(POD, 'default', 'dry2'), 'NotFound');
  });

  test('the applied configuration is stored with the object, per manager, and removed with it', async () => {
    const s = open();
    const cfg = pod('ap', { metadata: { labels: { v: '1' } } });
    const v1 = await s.create(POD, cfg, { applied: { manager: 'berthctl', config: cfg } });
    assert.equal(v1.metadata.annotations, undefined);
    assert.deepEqual(await s.getApplied(POD, 'default', 'ap', 'berthctl'), cfg);
    assert.equal(await s.getApplied(POD, 'default', 'ap', 'berth-sync'), undefined);
    const cfg2 = pod('ap', { metadata: { labels: { v: '2' } } });
    await s.update(
      POD,
      { ...v1, metadata: { ...v1.metadata, labels: { v: '2' } } },
      { applied: { manager: 'berthctl', config: cfg2 } },
    );
    assert.deepEqual(await s.getApplied(POD, 'default', 'ap', 'berthctl'), cfg2);
    // An update that changes nothing still records a new applied configuration.
    const cfg3 = { ...cfg2, metadata: { ...cfg2.metadata, annotations: { note: 'x' } } };
    const cur = await s.get(POD, 'default', 'ap');
    await s.update(POD, cur, { applied: { manager: 'berthctl', config: cfg3 } });
    assert.deepEqual(await s.getApplied(POD, 'default', 'ap', 'berthctl'), cfg3);
    await s.delete(POD, 'default', 'ap');
    assert.equal(await s.getApplied(POD, 'default', 'ap', 'berthctl'), undefined);
  });

  test('applied configurations (from before managedFields) are listed for migration and dropped by the write that migrates them', async () => {
    const s = open();
    const cfg = pod('mig', { metadata: { labels: { v: '1' } } });
    const v1 = await s.create(POD, cfg, { applied: { manager: 'berthctl', config: cfg } });
    await s.update(POD, v1, { applied: { manager: 'berth-sync-x', config: cfg } });
    const listed = await s.listApplied(POD, 'default', 'mig');
    assert.deepEqual(listed.map((a) => a.manager).sort(), ['berth-sync-x', 'berthctl']);
    assert.deepEqual(listed[0].config, cfg);
    const cur = await s.get(POD, 'default', 'mig');
    const seen: string[] = [];
    const next = await s.update(
      POD,
      { ...cur, metadata: { ...cur.metadata, labels: { v: '2' } } },
      {
        dropApplied: true,
        managedFields: (before, after) => {
          seen.push(`${before.metadata.labels?.v}->${after.metadata.labels?.v}`);
          return [
            { manager: 'm', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': {} } },
          ];
        },
      },
    );
    assert.deepEqual(seen, ['1->2']);
    assert.equal((next.metadata.managedFields as { manager: string }[])[0].manager, 'm');
    assert.deepEqual(await s.listApplied(POD, 'default', 'mig'), []);
  });

  test('list filters by namespace, label selector and spec.nodeName, sorted by namespace/name', async () => {
    const s = open();
    await s.create(NS, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'b' } });
    for (const [ns, name, node, app] of [
      ['default', 'z', 'n1', 'web'],
      ['default', 'a', 'n2', 'db'],
      ['b', 'm', 'n1', 'web'],
      ['default', 'k', '', 'web'],
    ]) {
      await s.create(
        POD,
        pod(name, { metadata: { labels: { app } }, spec: node ? { nodeName: node } : {} }, ns),
      );
    }
    const names = (r: { items: KubeObject[] }) =>
      r.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
    assert.deepEqual(names(await s.list(POD)), ['b/m', 'default/a', 'default/k', 'default/z']);
    assert.deepEqual(names(await s.list(POD, { namespace: 'default' })), [
      'default/a',
      'default/k',
      'default/z',
    ]);
    assert.deepEqual(names(await s.list(POD, { labelSelector: 'app=web' })), [
      'b/m',
      'default/k',
      'default/z',
    ]);
    assert.deepEqual(names(await s.list(POD, { labelSelector: 'app in (db),app!=web' })), ['default/a']);
    assert.deepEqual(names(await s.list(POD, { fieldSelector: 'spec.nodeName=n1' })), ['b/m', 'default/z']);
    assert.deepEqual(names(await s.list(POD, { fieldSelector: 'spec.nodeName=n1', namespace: 'b' })), [
      'b/m',
    ]);
    assert.deepEqual(names(await s.list(POD, { fieldSelector: 'spec.nodeName=' })), ['default/k']);
    assert.deepEqual(names(await s.list(POD, { fieldSelector: 'spec.nodeName!=n1' })), [
      'default/a',
      'default/k',
    ]);
    assert.deepEqual(names(await s.list(POD, { fieldSelector: 'metadata.name=a', namespace: 'default' })), [
      'default/a',
    ]);
    assert.deepEqual(names(await s.list(POD, { fieldSelector: 'metadata.name=m' })), ['b/m']);
    // Rebinding moves the pod between node indexes.
    const a = await s.get(POD, 'default', 'a');
    await s.update(POD, { ...a, spec: { ...a.spec, nodeName: 'n1' } });
    assert.deepEqual(names(await s.list(POD, { fieldSelector: 'spec.nodeName=n1' })), [
      'b/m',
      'default/a',
      'default/z',
    ]);
    assert.deepEqual(names(await s.list(POD, { fieldSelector: 'spec.nodeName=n2' })), []);
    await s.delete(POD, 'default', 'a');
    assert.deepEqual(names(await s.list(POD, { fieldSelector: 'spec.nodeName=n1' })), ['b/m', 'default/z']);
    const l = await s.list(POD);
    assert.equal(l.resourceVersion, await s.currentRevision());
    for (const opts of [
      {},
      { labelSelector: 'app=web' },
      { limit: 1 },
      { limit: 1, labelSelector: 'app=web' },
    ]) {
      const objs = await s.list(POD, opts);
      const raw = await s.listRaw(POD, opts);
      assert.deepEqual(
        raw.items.map((x) => JSON.parse(x) as KubeObject),
        objs.items,
      );
      assert.equal(raw.continue, objs.continue);
      assert.equal(raw.remainingItemCount, objs.remainingItemCount);
    }
    await rejects(s.list(POD, { labelSelector: 'app in (' }), 'BadRequest');
    await rejects(s.list(POD, { fieldSelector: 'spec.bogus=1' }), 'BadRequest', /field label not supported/);
  });

  test('list paging with limit/continue returns every item exactly once', async () => {
    const s = open();
    const all: string[] = [];
    for (let i = 0; i < 57; i++) {
      const name = `p${String(i).padStart(3, '0')}`;
      all.push(name);
      await s.create(POD, pod(name, { metadata: { labels: { odd: String(i % 2) } } }));
    }
    const collect = async (opts: { limit: number; labelSelector?: string }, addLate = false) => {
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      let rv: string | undefined;
      do {
        const r = await s.list(POD, { ...opts, continue: token });
        pages++;
        rv ??= r.resourceVersion;
        assert.equal(r.resourceVersion, rv, 'every page reports the first page revision');
        assert.ok(r.items.length <= opts.limit);
        if (!opts.labelSelector && r.continue) {
          const late = addLate && pages > 2 ? 1 : 0;
          assert.equal(r.remainingItemCount, all.length + late - seen.length - r.items.length);
        }
        seen.push(...r.items.map((o) => o.metadata.name as string));
        token = r.continue;
        // A change between pages does not upset the walk.
        if (addLate && pages === 2) await s.create(POD, pod('zzz-late'));
      } while (token);
      return seen;
    };
    const plain = await collect({ limit: 10 }, true);
    assert.deepEqual(plain, [...all, 'zzz-late']);
    await s.delete(POD, 'default', 'zzz-late');
    const odd = await collect({ limit: 7, labelSelector: 'odd=1' });
    assert.deepEqual(
      odd,
      all.filter((_, i) => i % 2 === 1),
    );
    const exact = await s.list(POD, { limit: 57 });
    assert.equal(exact.items.length, 57);
    assert.equal(exact.continue, undefined);
    await rejects(s.list(POD, { continue: 'garbage!' }), 'BadRequest', /continue/);
  });

  test('a list is one consistent snapshot at its resourceVersion while writes go on', async () => {
    const s = open();
    const createdAt = new Map<string, number>();
    const seed: Promise<KubeObject>[] = [];
    for (let i = 0; i < 1000; i++) seed.push(s.create(POD, pod(`seed-${i}`)));
    for (const o of await Promise.all(seed))
      createdAt.set(o.metadata.name as string, Number(o.metadata.resourceVersion));
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing && i < 2000; i++) {
        const o = await s.create(POD, pod(`late-${i}`));
        createdAt.set(o.metadata.name as string, Number(o.metadata.resourceVersion));
        if (i % 3 === 0) {
          const seedPod = await s.get(POD, 'default', `seed-${i % 1000}`);
          await s.update(POD, {
            ...seedPod,
            metadata: { ...seedPod.metadata, labels: { touched: String(i) } },
          });
        }
      }
    })();
    try {
      for (let n = 0; n < 15; n++) {
        const l = await s.list(POD, n % 2 ? { limit: 100000 } : {});
        const rv = Number(l.resourceVersion);
        const names = new Set(l.items.map((o) => o.metadata.name as string));
        for (const o of l.items)
          assert.ok(Number(o.metadata.resourceVersion) <= rv, 'no item newer than the list');
        for (const [name, at] of createdAt) {
          if (at <= rv)
            assert.ok(names.has(name), `${name} (created at ${at}) missing from the list at ${rv}`);
        }
        assert.equal(names.size, l.items.length, 'no duplicates');
      }
    } finally {
      writing = false;
      await writer;
    }
  });

  test('watch from resourceVersion V replays every change after V in order, then streams', async () => {
    const s = open();
    const base = await s.create(POD, pod('w0'));
    const expected: string[] = [];
    for (let i = 1; i <= 30; i++) {
      const p = await s.create(POD, pod(`w${i}`));
      expected.push(`ADDED w${i}`);
      if (i % 3 === 0) {
        await s.update(POD, { ...p, metadata: { ...p.metadata, labels: { i: String(i) } } });
        expected.push(`MODIFIED w${i}`);
      }
      if (i % 5 === 0) {
        await s.delete(POD, 'default', `w${i}`);
        expected.push(`DELETED w${i}`);
      }
    }
    await s.create(CM, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'other', namespace: 'default' },
    });
    const w = new Watcher(s, POD, { resourceVersion: base.metadata.resourceVersion });
    try {
      const replay = await w.take(expected.length);
      assert.deepEqual(brief(replay), expected);
      const revs = replay.map((e) => Number(e.object.metadata.resourceVersion));
      assert.deepEqual(
        revs,
        [...revs].sort((a, b) => a - b),
      );
      await s.create(POD, pod('live'));
      await s.delete(POD, 'default', 'w1');
      assert.deepEqual(brief(await w.take(2)), ['ADDED live', 'DELETED w1']);
    } finally {
      w.stop();
    }
  });

  test('watch without resourceVersion sends ADDED for every object, then changes after the list', async () => {
    const s = open();
    await s.create(POD, pod('e1'));
    await s.create(POD, pod('e2'));
    const w = new Watcher(s, POD, { namespace: 'default' });
    try {
      assert.deepEqual(brief(await w.take(2)), ['ADDED e1', 'ADDED e2']);
      const e1 = await s.get(POD, 'default', 'e1');
      await s.update(POD, { ...e1, spec: { ...e1.spec, nodeName: 'x' } });
      assert.deepEqual(brief(await w.take(1)), ['MODIFIED e1']);
    } finally {
      w.stop();
    }
  });

  test('watch filters by namespace and field selector', async () => {
    const s = open();
    await s.create(NS, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } });
    const rv = await s.currentRevision();
    const w = new Watcher(s, POD, {
      resourceVersion: rv,
      namespace: 'default',
      fieldSelector: 'spec.nodeName=n1',
    });
    try {
      await s.create(POD, pod('o', { spec: { nodeName: 'n1' } }, 'other'));
      await s.create(POD, pod('d2', { spec: { nodeName: 'n2' } }));
      await s.create(POD, pod('d1', { spec: { nodeName: 'n1' } }));
      assert.deepEqual(brief(await w.take(1)), ['ADDED d1']);
      const d2 = await s.get(POD, 'default', 'd2');
      await s.update(POD, { ...d2, spec: { ...d2.spec, nodeName: 'n1' } });
      assert.deepEqual(brief(await w.take(1)), ['ADDED d2']);
    } finally {
      w.stop();
    }
  });

  test('a label-selector watch sees ADDED when an object starts matching and DELETED when it stops', async () => {
    const s = open();
    await s.ensureNamespace('default');
    const rv = await s.currentRevision();
    const w = new Watcher(s, POD, { resourceVersion: rv, labelSelector: 'app=web' });
    try {
      const p = await s.create(POD, pod('sel', { metadata: { labels: { app: 'db' } } }));
      const p2 = await s.update(POD, { ...p, metadata: { ...p.metadata, labels: { app: 'web' } } });
      const p3 = await s.update(POD, { ...p2, metadata: { ...p2.metadata, labels: { app: 'web', v: '2' } } });
      const p4 = await s.update(POD, { ...p3, metadata: { ...p3.metadata, labels: { app: 'cache' } } });
      await s.update(POD, { ...p4, metadata: { ...p4.metadata, labels: { app: 'db' } } });
      await s.delete(POD, 'default', 'sel');
      const evs = await w.take(3);
      assert.deepEqual(
        evs.map((e) => `${e.type} ${e.object.metadata.labels?.app}`),
        ['ADDED web', 'MODIFIED web', 'DELETED cache'],
      );
      assert.equal(evs[2].object.metadata.resourceVersion, p4.metadata.resourceVersion);
      assert.deepEqual(await w.quiet(400), []);
    } finally {
      w.stop();
    }
  });

  test('a watch sends BOOKMARK events carrying the current revision', async () => {
    const s = open();
    await s.ensureNamespace('default');
    const w = new Watcher(s, POD, { resourceVersion: await s.currentRevision(), bookmarkIntervalMs: 100 });
    try {
      await s.create(CM, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'bump', namespace: 'default' },
      });
      const rev = await s.currentRevision();
      for (;;) {
        const ev = await w.next(5000);
        assert.equal(ev.type, 'BOOKMARK');
        assert.equal(ev.object.kind, 'Pod');
        assert.equal(ev.object.apiVersion, 'v1');
        if (ev.object.metadata.resourceVersion === rev) break;
        assert.ok(Number(ev.object.metadata.resourceVersion) < Number(rev));
      }
    } finally {
      w.stop();
    }
  });

  test('a watch with a bad selector or resourceVersion is rejected before it streams', () => {
    const s = open();
    const signal = new AbortController().signal;
    for (const opts of [
      { labelSelector: 'a in (' },
      { fieldSelector: 'spec.nope=1' },
      { resourceVersion: 'abc' },
    ]) {
      assert.throws(
        () => s.watch(POD, opts, signal),
        (e: unknown) => e instanceof ApiError && e.reason === 'BadRequest',
      );
    }
  });

  test('a watch ends cleanly when its signal aborts', async () => {
    const s = open();
    await s.ensureNamespace('default');
    const ac = new AbortController();
    const rv = await s.currentRevision();
    const iterable = s.watch(POD, { resourceVersion: rv }, ac.signal);
    const it = iterable[Symbol.asyncIterator]();
    const pending = it.next();
    setTimeout(() => ac.abort(), 50);
    const r = await pending;
    assert.equal(r.done, true);
  });

  test('a watch from a trimmed revision is 410 too old resource version', async () => {
    const s = open({ streamMaxLen: 5 });
    const first = await s.create(POD, pod('c0'));
    for (let i = 1; i <= 10; i++) await s.create(POD, pod(`c${i}`));
    const compacted = await s.compactedRevision(POD);
    assert.ok(Number(compacted) > Number(first.metadata.resourceVersion));
    const w = new Watcher(s, POD, { resourceVersion: first.metadata.resourceVersion });
    try {
      const e = await w.next().then(
        () => assert.fail('expected 410'),
        (err: unknown) => err as ApiError,
      );
      assert.ok(e instanceof ApiError);
      assert.equal(e.code, 410);
      assert.equal(e.message, `too old resource version: ${first.metadata.resourceVersion} (${compacted})`);
    } finally {
      w.stop();
    }
    // From the compaction point itself nothing is lost.
    const ok = new Watcher(s, POD, { resourceVersion: compacted });
    try {
      assert.equal((await ok.take(5)).length, 5);
    } finally {
      ok.stop();
    }
  });

  test('a hundred watchers of several kinds share one reader connection and all see each change', async () => {
    const s = open({ watchBlockMs: 5000 });
    await s.ensureNamespace('default');
    const clientsBefore = await clientCount(redis.url);
    const rv = await s.currentRevision();
    const pods = Array.from({ length: 60 }, () => new Watcher(s, POD, { resourceVersion: rv }));
    const cms: Watcher[] = [];
    try {
      const p = s.create(POD, pod('fan'));
      const got = await Promise.all(pods.map((w) => w.take(1)));
      await p;
      for (const g of got) assert.deepEqual(brief(g), ['ADDED fan']);
      // A kind watched for the first time while the reader is blocked on the other one.
      const rv2 = await s.currentRevision();
      for (let i = 0; i < 40; i++) cms.push(new Watcher(s, CM, { resourceVersion: rv2 }));
      for (const w of cms) w.prime();
      while (s.watcherCounts().configmaps !== 40) await new Promise((r) => setTimeout(r, 20));
      await s.create(CM, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'fan-cm', namespace: 'default' },
      });
      await s.create(POD, pod('fan2'));
      for (const g of await Promise.all(cms.map((w) => w.take(1))))
        assert.deepEqual(brief(g), ['ADDED fan-cm']);
      for (const g of await Promise.all(pods.map((w) => w.take(1))))
        assert.deepEqual(brief(g), ['ADDED fan2']);
      assert.deepEqual(s.watcherCounts(), { pods: 60, configmaps: 40 });
      assert.ok(
        (await clientCount(redis.url)) - clientsBefore <= 1,
        'at most one extra connection for 100 watchers',
      );
    } finally {
      for (const w of [...pods, ...cms]) w.stop();
    }
  });

  test('a Redis that could lose acknowledged writes is reported as a warning', async () => {
    const seen = async () => {
      const states: string[] = [];
      const s = open({
        onStateChange: (state, detail) => states.push(`${state}${detail ? `: ${detail}` : ''}`),
      });
      await s.ping();
      await new Promise((r) => setTimeout(r, 100));
      await s.close();
      return states;
    };
    assert.deepEqual(await seen(), ['ready']);
    const admin = new Redis(redis.url);
    try {
      await admin.config('SET', 'appendfsync', 'everysec');
      const states = await seen();
      assert.ok(
        states.some((x) => /^warning: Redis runs with appendfsync everysec/.test(x)),
        states.join('\n'),
      );
    } finally {
      await admin.config('SET', 'appendfsync', 'always');
      admin.disconnect();
    }
  });

  test('listing 10,000 pods returns them all (time reported)', async (t) => {
    const s = open();
    const batch: Promise<KubeObject>[] = [];
    for (let i = 0; i < 10_000; i++) {
      batch.push(
        s.create(
          POD,
          pod(`bulk-${String(i).padStart(5, '0')}`, {
            metadata: { labels: { app: 'bulk', shard: String(i % 10) } },
            spec: {
              nodeName: `node-${i % 20}`,
              containers: [
                {
                  name: 'app',
                  image: 'registry.local:5000/team/web:1.2',
                  resources: { requests: { cpu: '100m', memory: '64Mi' } },
                },
              ],
            },
          }),
        ),
      );
      if (batch.length === 500) await Promise.all(batch.splice(0));
    }
    await Promise.all(batch);
    const times: number[] = [];
    let n = 0;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      n = (await s.list(POD)).items.length;
      times.push(performance.now() - t0);
    }
    assert.equal(n, 10_000);
    times.sort((a, b) => a - b);
    t.diagnostic(`list of 10,000 pods: median ${times[2].toFixed(1)} ms, best ${times[0].toFixed(1)} ms`);
    const rawTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      assert.equal((await s.listRaw(POD)).items.length, 10_000);
      rawTimes.push(performance.now() - t0);
    }
    rawTimes.sort((a, b) => a - b);
    t.diagnostic(
      `listRaw of 10,000 pods: median ${rawTimes[2].toFixed(1)} ms, best ${rawTimes[0].toFixed(1)} ms`,
    );
    const t0 = performance.now();
    const one = await s.list(POD, { fieldSelector: 'spec.nodeName=node-3' });
    t.diagnostic(`fieldSelector spec.nodeName (500 of 10,000): ${(performance.now() - t0).toFixed(1)} ms`);
    assert.equal(one.items.length, 500);
  });
});

async function clientCount(url: string): Promise<number> {
  const r = new Redis(url);
  try {
    const raw = (await r.client('LIST')) as string;
    return raw.trim().split('\n').length - 1;
  } finally {
    r.disconnect();
  }
}
