// End-to-end: the Deployment controller inside a real control plane (real redis-server), checked
// through the HTTP API. First with the Deployment controller alone, the test playing the
// ReplicaSet controller by writing ReplicaSet statuses: names, labels, annotations, owner
// references, revisions, the rolling-update steps, undo, scale, status and the progress deadline.
// Then with the ReplicaSet controller, the scheduler and a real agent (runc): an image update
// that never drops below replicas - maxUnavailable Running+Ready pods (sampled every 100 ms), and
// an undo that brings back the old template. Everything is removed in after().
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  TestRedis,
  api,
  buildBusyboxImage,
  sleep,
  startAgent,
  startControlPlane,
  startRegistry,
  waitFor,
  type ApiCaller,
  type ControlPlane,
  type TestAgent,
  type TestRegistry,
  ok,
} from '@berth/testing';

const REVISION = 'deployment.kubernetes.io/revision';

function deployment(
  name: string,
  replicas: number,
  o: {
    image?: string;
    env?: string;
    strategy?: unknown;
    extra?: Record<string, unknown>;
    cause?: string;
  } = {},
) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, ...(o.cause ? { annotations: { 'kubernetes.io/change-cause': o.cause } } : {}) },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      strategy: o.strategy ?? { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } },
      ...(o.extra ?? {}),
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: 'main',
              image: o.image ?? '127.0.0.1:1/none:v1',
              command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'],
              env: [{ name: 'VERSION', value: o.env ?? 'v1' }],
            },
          ],
        },
      },
    },
  };
}

/** Helpers over one namespace of one control plane. */
function inNamespace(k: ApiCaller, ns: string) {
  const dPath = (d = '') => `/apis/apps/v1/namespaces/${ns}/deployments${d ? `/${d}` : ''}`;
  const rsPath = (rs = '') => `/apis/apps/v1/namespaces/${ns}/replicasets${rs ? `/${rs}` : ''}`;
  const h = {
    async create(): Promise<void> {
      await ok(
        k.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }),
        ns,
      );
    },
    getD: async (name: string): Promise<any> => ok(k.get(dPath(name)), `deployment ${name}`),
    postD: (d: unknown) => ok(k.post(dPath(), d), 'create deployment'),
    patchD: (name: string, patch: unknown, type?: string) =>
      ok(k.patch(dPath(name), patch, type), `patch ${name}`),
    /** The Deployment's ReplicaSets, oldest revision first. */
    async replicaSets(name: string): Promise<any[]> {
      const items: any[] = (await ok(k.get(rsPath()), 'list rs')).items;
      return items
        .filter((rs) =>
          rs.metadata.ownerReferences?.some((r: any) => r.kind === 'Deployment' && r.name === name),
        )
        .sort(
          (a, b) => Number(a.metadata.annotations?.[REVISION]) - Number(b.metadata.annotations?.[REVISION]),
        );
    },
    /** Plays the ReplicaSet controller: status = spec, all of them available (or `available`). */
    async settle(rs: any, available?: number): Promise<void> {
      // Read-modify-write; the controller may write the ReplicaSet in between (409): read again.
      for (let attempt = 0; ; attempt++) {
        const cur = await ok(k.get(rsPath(rs.metadata.name)), 'rs');
        const n = cur.spec.replicas ?? 1;
        const a = available ?? n;
        const status = {
          replicas: n,
          readyReplicas: a,
          availableReplicas: a,
          observedGeneration: cur.metadata.generation,
        };
        const res = await k.put(rsPath(cur.metadata.name) + '/status', { ...cur, status });
        if (res.status === 409 && attempt < 20) continue;
        assert.equal(res.status, 200, `rs status: HTTP ${res.status} ${JSON.stringify(res.body)}`);
        return;
      }
    },
    async events(name: string): Promise<string[]> {
      const items: any[] = (await ok(k.get(`/api/v1/namespaces/${ns}/events`), 'events')).items;
      return items
        .filter((e) => e.involvedObject.kind === 'Deployment' && e.involvedObject.name === name)
        .map((e) => `${e.reason} ${e.message}`);
    },
  };
  return h;
}

describe('deployment controller e2e (controller alone; the test writes ReplicaSet statuses)', () => {
  let redis: TestRedis;
  let cp: ControlPlane;
  let k: ApiCaller;

  before(async () => {
    redis = await TestRedis.start();
    cp = await startControlPlane({ redisUrl: redis.url, extraArgs: ['--controllers', 'deployment'] });
    k = api(cp.url, cp.token);
  });

  after(async () => {
    await cp?.stop();
    await redis?.stop();
  });

  test('a Deployment gets one ReplicaSet <name>-<hash>: labels, selector, owner, annotations, revision; status follows its status', async () => {
    const n = inNamespace(k, 'd-first');
    await n.create();
    const d = await n.postD(deployment('web', 4, { cause: 'first version' }));
    const rs = await waitFor('the ReplicaSet', async () => (await n.replicaSets('web'))[0]);
    const hash = rs.metadata.labels['pod-template-hash'];
    assert.match(hash, /^[a-z0-9]+$/);
    assert.equal(rs.metadata.name, `web-${hash}`);
    assert.deepEqual(rs.spec.selector.matchLabels, { app: 'web', 'pod-template-hash': hash });
    assert.equal(rs.spec.template.metadata.labels['pod-template-hash'], hash);
    assert.equal(rs.spec.replicas, 4);
    assert.deepEqual(rs.metadata.ownerReferences, [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: 'web',
        uid: d.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    assert.equal(rs.metadata.annotations[REVISION], '1');
    assert.equal(rs.metadata.annotations['deployment.kubernetes.io/desired-replicas'], '4');
    assert.equal(rs.metadata.annotations['deployment.kubernetes.io/max-replicas'], '5');
    assert.equal(rs.metadata.annotations['kubernetes.io/change-cause'], 'first version');
    await waitFor(
      'revision on the Deployment',
      async () => (await n.getD('web')).metadata.annotations?.[REVISION] === '1',
    );

    await n.settle(rs);
    const done = await waitFor('a complete status', async () => {
      const cur = await n.getD('web');
      const p = cur.status?.conditions?.find((c: any) => c.type === 'Progressing');
      return p?.reason === 'NewReplicaSetAvailable' ? cur : undefined;
    });
    assert.deepEqual(
      [
        done.status.replicas,
        done.status.updatedReplicas,
        done.status.readyReplicas,
        done.status.availableReplicas,
      ],
      [4, 4, 4, 4],
    );
    assert.equal(done.status.unavailableReplicas, 0);
    assert.equal(done.status.observedGeneration, done.metadata.generation);
    const avail = done.status.conditions.find((c: any) => c.type === 'Available');
    assert.deepEqual([avail.status, avail.reason], ['True', 'MinimumReplicasAvailable']);
    assert.ok((await n.events('web')).includes(`ScalingReplicaSet Scaled up replica set web-${hash} to 4`));
  });

  test('an image update rolls step by step within maxSurge/maxUnavailable; undo makes the old ReplicaSet revision 3', async () => {
    const n = inNamespace(k, 'd-roll');
    await n.create();
    await n.postD(deployment('web', 4));
    const first = await waitFor('the first ReplicaSet', async () => (await n.replicaSets('web'))[0]);
    await n.settle(first);
    await waitFor('complete', async () => (await n.getD('web')).status?.availableReplicas === 4);

    await n.patchD('web', {
      spec: { template: { spec: { containers: [{ name: 'main', image: '127.0.0.1:1/none:v2' }] } } },
    });
    // Step the "ReplicaSet controller" until the new ReplicaSet has everything; check the invariant.
    let steps = 0;
    for (;;) {
      const rss = await n.replicaSets('web');
      const total = rss.reduce((s, rs) => s + rs.spec.replicas, 0);
      assert.ok(total <= 5, `at most replicas + maxSurge = 5 pods, got ${total}`);
      // The pods the controller may count on: what each RS will keep once it settles.
      const worstAvailable = rss.reduce(
        (s, rs) => s + Math.min(rs.spec.replicas, rs.status?.availableReplicas ?? 0),
        0,
      );
      assert.ok(
        worstAvailable >= 3,
        `available never below replicas - maxUnavailable = 3, got ${worstAvailable}`,
      );
      const newRs = rss.find((rs) => rs.spec.template.spec.containers[0].image.endsWith(':v2'));
      if (
        newRs &&
        rss.length === 2 &&
        newRs.spec.replicas === 4 &&
        rss.every((rs) => rs === newRs || rs.spec.replicas === 0)
      ) {
        await n.settle(newRs);
        for (const rs of rss) if (rs !== newRs) await n.settle(rs);
        break;
      }
      for (const rs of rss) await n.settle(rs);
      steps++;
      assert.ok(steps < 50, 'the rollout finishes');
      // Wait for the controller to act on these statuses (the ReplicaSets change) or finish.
      const before = JSON.stringify(rss.map((rs) => rs.spec.replicas));
      await waitFor('the next step', async () => {
        const now = await n.replicaSets('web');
        return JSON.stringify(now.map((rs) => rs.spec.replicas)) !== before || now.length !== rss.length;
      });
    }
    assert.ok(steps >= 2, 'more than one step');
    const after = await waitFor('complete after the update', async () => {
      const d = await n.getD('web');
      return d.status?.updatedReplicas === 4 && d.status?.replicas === 4 && d.status?.availableReplicas === 4
        ? d
        : undefined;
    });
    assert.equal(after.metadata.annotations[REVISION], '2');
    const [r1, r2] = await n.replicaSets('web');
    assert.deepEqual(
      [
        r1.metadata.annotations[REVISION],
        r1.spec.replicas,
        r2.metadata.annotations[REVISION],
        r2.spec.replicas,
      ],
      ['1', 0, '2', 4],
    );
    const events = await n.events('web');
    assert.ok(
      events.includes(`ScalingReplicaSet Scaled up replica set ${r2.metadata.name} to 1`),
      events.join('\n'),
    );
    assert.ok(
      events.includes(`ScalingReplicaSet Scaled down replica set ${r1.metadata.name} to 3 from 4`),
      events.join('\n'),
    );

    // rollout undo (what berthctl does): the old template back into the Deployment.
    const template = structuredClone(r1.spec.template);
    delete template.metadata.labels['pod-template-hash'];
    await n.patchD(
      'web',
      [{ op: 'replace', path: '/spec/template', value: template }],
      'application/json-patch+json',
    );
    const back = await waitFor('the old ReplicaSet is the new one again', async () => {
      const rs = (await n.replicaSets('web')).find((x) => x.metadata.name === r1.metadata.name);
      return rs?.metadata.annotations[REVISION] === '3' && rs.spec.replicas > 0 ? rs : undefined;
    });
    assert.equal(back.metadata.annotations['deployment.kubernetes.io/revision-history'], '1');
    assert.equal((await n.replicaSets('web')).length, 2, 'no third ReplicaSet');
    await waitFor(
      'the Deployment at revision 3',
      async () => (await n.getD('web')).metadata.annotations[REVISION] === '3',
    );
  });

  test('scale through /scale resizes the ReplicaSet and its desired-replicas annotation', async () => {
    const n = inNamespace(k, 'd-scale');
    await n.create();
    await n.postD(deployment('web', 2));
    const rs = await waitFor('the ReplicaSet', async () => (await n.replicaSets('web'))[0]);
    await n.settle(rs);
    // As berthctl scale: a merge patch of the scale subresource (no resourceVersion to race with).
    const scale = await ok(
      k.patch('/apis/apps/v1/namespaces/d-scale/deployments/web/scale', { spec: { replicas: 5 } }),
      'patch scale',
    );
    assert.equal(scale.spec.replicas, 5);
    const scaled = await waitFor('scaled to 5', async () => {
      const cur = (await n.replicaSets('web'))[0];
      return cur.spec.replicas === 5 ? cur : undefined;
    });
    assert.equal(scaled.metadata.annotations['deployment.kubernetes.io/desired-replicas'], '5');
    assert.equal(scaled.metadata.name, rs.metadata.name);
  });

  test('Recreate scales the old ReplicaSet to 0 and creates the new one only when its pods are gone', async () => {
    const n = inNamespace(k, 'd-recreate');
    await n.create();
    await n.postD(deployment('web', 2, { strategy: { type: 'Recreate' } }));
    const old = await waitFor('the ReplicaSet', async () => (await n.replicaSets('web'))[0]);
    await n.settle(old);
    await n.patchD('web', {
      spec: { template: { spec: { containers: [{ name: 'main', image: '127.0.0.1:1/none:v2' }] } } },
    });
    await waitFor('old scaled to 0', async () => (await n.replicaSets('web'))[0].spec.replicas === 0);
    await sleep(500);
    assert.equal((await n.replicaSets('web')).length, 1, 'no new ReplicaSet while the old one reports pods');
    await n.settle(old); // status.replicas 0 now
    const rss = await waitFor('the new ReplicaSet', async () => {
      const all = await n.replicaSets('web');
      return all.length === 2 ? all : undefined;
    });
    assert.equal(rss[1].spec.replicas, 2);
  });

  test('an orphan ReplicaSet the selector matches is adopted (controller ownerReference added)', async () => {
    const n = inNamespace(k, 'd-adopt');
    await n.create();
    const orphan = await ok(
      k.post('/apis/apps/v1/namespaces/d-adopt/replicasets', {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name: 'web-left', labels: { app: 'web', 'pod-template-hash': 'left' } },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: 'web', 'pod-template-hash': 'left' } },
          template: {
            metadata: { labels: { app: 'web', 'pod-template-hash': 'left' } },
            spec: { containers: [{ name: 'main', image: '127.0.0.1:1/none:v0' }] },
          },
        },
      }),
      'orphan rs',
    );
    const d = await n.postD(deployment('web', 1));
    const adopted = await waitFor('adoption', async () => {
      const rs = (await n.replicaSets('web')).find((x) => x.metadata.uid === orphan.metadata.uid);
      return rs;
    });
    assert.deepEqual(adopted.metadata.ownerReferences, [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: 'web',
        uid: d.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    // It is an old ReplicaSet: a new one runs the Deployment's template.
    await waitFor('the new ReplicaSet too', async () => (await n.replicaSets('web')).length === 2);
  });

  test('no progress for progressDeadlineSeconds: Progressing=False ProgressDeadlineExceeded', async () => {
    const n = inNamespace(k, 'd-deadline');
    await n.create();
    await n.postD(deployment('web', 2, { extra: { progressDeadlineSeconds: 2 } }));
    const rs = await waitFor('the ReplicaSet', async () => (await n.replicaSets('web'))[0]);
    await n.settle(rs, 0); // pods exist, none ever becomes available
    const c = await waitFor(
      'the deadline',
      async () => {
        const p = (await n.getD('web')).status?.conditions?.find((x: any) => x.type === 'Progressing');
        return p?.reason === 'ProgressDeadlineExceeded' ? p : undefined;
      },
      15_000,
    );
    assert.equal(c.status, 'False');
    assert.equal(c.message, `ReplicaSet "${rs.metadata.name}" has timed out progressing.`);
  });
});

const isRoot = process.getuid?.() === 0 && existsSync('/usr/sbin/runc') && existsSync('/usr/bin/conmon');

describe(
  'deployment e2e with the ReplicaSet controller, the scheduler and a real agent (runc)',
  { skip: !isRoot && 'needs root, runc and conmon' },
  () => {
    let redis: TestRedis;
    let cp: ControlPlane;
    let reg: TestRegistry;
    let agent: TestAgent;
    let k: ApiCaller;
    let image: string;
    const node = `deploy-e2e-${process.pid}`;

    before(async () => {
      redis = await TestRedis.start();
      cp = await startControlPlane({
        redisUrl: redis.url,
        extraArgs: ['--controllers', 'deployment,replicaset,scheduler,garbagecollector'],
      });
      k = api(cp.url, cp.token);
      reg = await startRegistry();
      image = (await buildBusyboxImage(reg, 'e2e/busybox', 'v1', { format: 'v2s2' })).ref;
      agent = await startAgent({
        server: cp.url,
        token: cp.token,
        nodeName: node,
        extraArgs: ['--heartbeat-interval', '1s'],
      });
    });

    after(async () => {
      // Delete the workload first so the agent stops its containers, then stop everything.
      if (k) await k.delete('/apis/apps/v1/namespaces/default/deployments/web').catch(() => undefined);
      if (k)
        await waitFor(
          'pods gone',
          async () => ((await k.get('/api/v1/namespaces/default/pods')).body.items ?? []).length === 0,
          30_000,
        ).catch(() => undefined);
      await agent?.stop();
      await reg?.stop();
      await cp?.stop();
      await redis?.stop();
    });

    const pods = async (): Promise<any[]> =>
      (await ok(k.get('/api/v1/namespaces/default/pods'), 'pods')).items;
    const runningReady = (p: any) =>
      !p.metadata.deletionTimestamp &&
      p.status?.phase === 'Running' &&
      p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
    const envOf = (p: any) => p.spec.containers[0].env?.find((e: any) => e.name === 'VERSION')?.value;

    test('an env update rolls out without dropping below replicas - maxUnavailable Running+Ready pods; undo returns the old template', async () => {
      const n = inNamespace(k, 'default');
      await n.postD(deployment('web', 4, { image, env: 'v1' }));
      await waitFor(
        '4 Running+Ready pods',
        async () => (await pods()).filter(runningReady).length === 4,
        90_000,
      );
      const [first] = await n.replicaSets('web');
      const oldHash = first.metadata.labels['pod-template-hash'];

      // Sample the pods every 100 ms during the rollout.
      let sampling = true;
      let minSeen = Infinity;
      let samples = 0;
      const sampler = (async () => {
        while (sampling) {
          const ready = (await pods()).filter(runningReady).length;
          minSeen = Math.min(minSeen, ready);
          samples++;
          await sleep(100);
        }
      })();
      try {
        await n.patchD(
          'web',
          [{ op: 'replace', path: '/spec/template/spec/containers/0/env/0/value', value: 'v2' }],
          'application/json-patch+json',
        );
        const newHash = await waitFor('the new ReplicaSet', async () => {
          const rss = await n.replicaSets('web');
          return rss.length === 2 ? rss[1].metadata.labels['pod-template-hash'] : undefined;
        });
        await waitFor(
          'every pod from the new ReplicaSet, Running and Ready',
          async () => {
            const all = await pods();
            return (
              all.length === 4 &&
              all.every((p) => p.metadata.labels['pod-template-hash'] === newHash && runningReady(p))
            );
          },
          120_000,
        );
        const d = await waitFor('Deployment status complete', async () => {
          const cur = await n.getD('web');
          const p = cur.status?.conditions?.find((c: any) => c.type === 'Progressing');
          return p?.reason === 'NewReplicaSetAvailable' && cur.status.updatedReplicas === 4 ? cur : undefined;
        });
        assert.equal(d.metadata.annotations[REVISION], '2');
      } finally {
        sampling = false;
        await sampler;
      }
      assert.ok(samples > 5, `sampled ${samples} times`);
      assert.ok(
        minSeen >= 3,
        `Running+Ready pods never below 3 (replicas 4 - maxUnavailable 1); saw ${minSeen}`,
      );
      assert.ok((await pods()).every((p) => envOf(p) === 'v2'));

      // rollout undo: the old template back; the old ReplicaSet runs the pods again.
      const [r1] = await n.replicaSets('web');
      const template = structuredClone(r1.spec.template);
      delete template.metadata.labels['pod-template-hash'];
      await n.patchD(
        'web',
        [{ op: 'replace', path: '/spec/template', value: template }],
        'application/json-patch+json',
      );
      await waitFor(
        'every pod from the old ReplicaSet again',
        async () => {
          const all = await pods();
          return (
            all.length === 4 &&
            all.every(
              (p) =>
                p.metadata.labels['pod-template-hash'] === oldHash && runningReady(p) && envOf(p) === 'v1',
            )
          );
        },
        120_000,
      );
      const d = await n.getD('web');
      assert.equal(d.spec.template.spec.containers[0].env[0].value, 'v1');
      assert.equal(d.metadata.annotations[REVISION], '3');
    });
  },
);
