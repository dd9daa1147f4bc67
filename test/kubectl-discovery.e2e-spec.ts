import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  TestRedis,
  api,
  haveKubectl,
  kubectl,
  startControlPlane,
  tempDir,
  type ApiCaller,
  type ControlPlane,
  type KubectlResult,
  type KubectlTarget,
} from '@berth/testing';

/**
 * Real, unmodified kubectl binaries (1.29 and 1.33) against a control plane: discovery
 * (aggregated v2beta1 / v2), version, api-resources, the OpenAPI v3 documents, and apply with the
 * default --validate=strict (kubectl leaves validation to the server).
 *
 * The control plane serves HTTPS (--tls) and kubectl trusts its CA (--certificate-authority):
 * client-go sends a bearer token only over TLS. The control plane's request log shows which
 * discovery paths kubectl read.
 */

const MINORS = [29, 33];

function configMap(name: string): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  a: "1"\n`;
}

function deployment(name: string, opts: { image?: string; extra?: string; strategy?: string } = {}): string {
  return [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  replicas: 1',
    ...(opts.extra ? [`  ${opts.extra}`] : []),
    ...(opts.strategy ? [`  strategy: ${opts.strategy}`] : []),
    '  selector:',
    `    matchLabels: {app: ${name}}`,
    '  template:',
    `    metadata: {labels: {app: ${name}}}`,
    '    spec:',
    '      containers:',
    `      - name: main`,
    `        image: ${opts.image ?? 'busybox:1.36'}`,
    '        command: [sleep, "3600"]',
    '',
  ].join('\n');
}

/** `kubectl api-resources` output as rows keyed by NAME, cells by column header. */
function table(stdout: string): Map<string, Record<string, string>> {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0];
  const cols = [...header.matchAll(/\S+/g)].map((m) => ({ name: m[0], start: m.index! }));
  const rows = new Map<string, Record<string, string>>();
  for (const line of lines.slice(1)) {
    const row: Record<string, string> = {};
    cols.forEach((c, i) => {
      row[c.name] = line.slice(c.start, cols[i + 1]?.start ?? line.length).trim();
    });
    rows.set(row.NAME, row);
  }
  return rows;
}

function succeeded(r: KubectlResult, what: string): void {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

describe('real kubectl: discovery, version, api-resources, OpenAPI and strict apply', () => {
  let redis: TestRedis;
  let cp: ControlPlane;
  let k: ApiCaller;
  const dir = tempDir('berth-kubectl-');
  /** `METHOD path?query` of every request the control plane logged from `since` (ms) on. */
  const requestsSince = (since: number): string[] =>
    cp.proc.output
      .split('\n')
      .filter((l) => l.includes('"msg":"request"'))
      .map((l) => JSON.parse(l) as { time: string; method: string; path: string })
      .filter((r) => Date.parse(r.time) >= since)
      .map((r) => `${r.method} ${r.path}`);

  before(async () => {
    redis = await TestRedis.start();
    cp = await startControlPlane({ redisUrl: redis.url, extraArgs: ['--controllers', 'none'], tls: true });
    k = api(cp.url, cp.token, { ca: cp.ca });
  });

  after(async () => {
    await cp?.stop();
    await redis?.stop();
    dir.remove();
  });

  test('the OpenAPI documents are authenticated like the rest of the API', async () => {
    const anonymous = api(cp.url, '', { ca: cp.ca });
    for (const p of ['/openapi/v3', '/openapi/v3/api/v1', '/api', '/version']) {
      const r = await anonymous.get(p);
      assert.equal(r.status, 401, p);
      assert.equal(r.body.reason, 'Unauthorized', p);
    }
    const index = await k.get('/openapi/v3');
    assert.equal(index.status, 200);
    const url: string = index.body.paths['apis/apps/v1'].serverRelativeURL;
    const doc = await k.get(url);
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.0.0');
    assert.match(doc.headers.get('cache-control') ?? '', /immutable/);
    // A stale hash is redirected to the current document.
    const stale = await k.get('/openapi/v3/apis/apps/v1?hash=0'); // (not followed over https)
    assert.equal(stale.status, 301);
    assert.equal(stale.headers.get('location'), url);
    assert.equal((await k.get('/openapi/v3/apis/nope/v1')).status, 404);
  });

  for (const minor of MINORS) {
    describe(
      `kubectl 1.${minor}`,
      { skip: !haveKubectl(minor) && `kubectl.1.${minor} is not installed` },
      () => {
        let target: KubectlTarget;
        const run = (args: string[]): Promise<KubectlResult> => kubectl(minor, target, args);
        const file = (name: string, text: string): string => {
          const p = path.join(dir.path, `${minor}-${name}.yaml`);
          writeFileSync(p, text);
          return p;
        };

        before(() => {
          const cacheDir = path.join(dir.path, `cache-${minor}`);
          target = { url: cp.url, token: cp.token, cacheDir, caFile: cp.caFile };
        });

        test('version prints the server version and exits 0', async () => {
          const r = await run(['version']);
          succeeded(r, 'version');
          assert.match(r.stdout, new RegExp(`Client Version: v1\\.${minor}\\.`));
          assert.match(r.stdout, /Server Version: v1\.32\.0-berth/);
        });

        test('api-resources lists every kind from aggregated discovery alone', async () => {
          const from = Date.now();
          const r = await run(['api-resources']);
          succeeded(r, 'api-resources');
          const rows = table(r.stdout);
          const expect: Record<string, [string, string, string, string]> = {
            pods: ['po', 'v1', 'true', 'Pod'],
            nodes: ['no', 'v1', 'false', 'Node'],
            namespaces: ['ns', 'v1', 'false', 'Namespace'],
            configmaps: ['cm', 'v1', 'true', 'ConfigMap'],
            secrets: ['', 'v1', 'true', 'Secret'],
            events: ['ev', 'v1', 'true', 'Event'],
            deployments: ['deploy', 'apps/v1', 'true', 'Deployment'],
            replicasets: ['rs', 'apps/v1', 'true', 'ReplicaSet'],
            leases: ['', 'coordination.k8s.io/v1', 'true', 'Lease'],
            services: ['svc', 'v1', 'true', 'Service'],
          };
          assert.deepEqual([...rows.keys()].sort(), Object.keys(expect).sort(), r.stdout);
          for (const [name, [short, apiVersion, namespaced, kind]] of Object.entries(expect)) {
            const row = rows.get(name)!;
            assert.deepEqual(
              [row.SHORTNAMES, row.APIVERSION, row.NAMESPACED, row.KIND],
              [short, apiVersion, namespaced, kind],
              name,
            );
          }
          // /api and /apis answered in the aggregated form: kubectl read no per-group-version list.
          const paths = requestsSince(from).map((l) => l.split('?')[0]);
          assert.ok(paths.includes('GET /api') && paths.includes('GET /apis'), paths.join('\n'));
          assert.deepEqual(
            paths.filter((p) => /^GET \/apis?\/./.test(p)),
            [],
            'legacy discovery was used: the aggregated reply was not recognised',
          );
        });

        test('api-resources --api-group=apps and -o wide: verbs and the "all" category', async () => {
          const apps = await run(['api-resources', '--api-group=apps']);
          succeeded(apps, 'api-resources --api-group=apps');
          assert.deepEqual([...table(apps.stdout).keys()].sort(), ['deployments', 'replicasets']);
          const wide = await run(['api-resources', '-o', 'wide']);
          succeeded(wide, 'api-resources -o wide');
          const rows = table(wide.stdout);
          assert.equal(rows.get('deployments')!.VERBS, 'create,delete,get,list,patch,update,watch');
          for (const name of ['pods', 'deployments', 'replicasets'])
            assert.equal(rows.get(name)!.CATEGORIES, 'all');
          assert.equal(rows.get('configmaps')!.CATEGORIES, '');
        });

        test('cluster-info says where the control plane runs (services are served read-only and empty)', async () => {
          const r = await run(['cluster-info']);
          succeeded(r, 'cluster-info');
          assert.match(r.stdout, /is running at/);
        });

        test('get --raw /openapi/v3 and a group/version document parse', async () => {
          const index = await run(['get', '--raw', '/openapi/v3']);
          succeeded(index, 'get --raw /openapi/v3');
          const paths = JSON.parse(index.stdout).paths;
          assert.deepEqual(Object.keys(paths).sort(), [
            'api/v1',
            'apis/apps/v1',
            'apis/coordination.k8s.io/v1',
          ]);
          const doc = await run(['get', '--raw', paths['api/v1'].serverRelativeURL]);
          succeeded(doc, 'get --raw the api/v1 document');
          const parsed = JSON.parse(doc.stdout);
          assert.equal(parsed.openapi, '3.0.0');
          assert.ok(parsed.components.schemas['io.k8s.api.core.v1.ConfigMap']);
          const explain = await run(['explain', 'deployment.spec.strategy']);
          succeeded(explain, 'explain');
          assert.match(explain.stdout, /rollingUpdate\s+<RollingUpdateDeployment>/);
        });

        test('apply -f with --validate=strict: create, update, unchanged; the server checks fields', async () => {
          const cm = await run(['apply', '-f', file('cm', configMap(`cm-${minor}`))]);
          succeeded(cm, 'apply ConfigMap');
          assert.equal(cm.stdout.trim(), `configmap/cm-${minor} created`);
          assert.equal((await k.get(`/api/v1/namespaces/default/configmaps/cm-${minor}`)).body.data.a, '1');
          // kubectl found fieldValidation in the OpenAPI document and asked the server to be strict.
          const requests = requestsSince(0);
          assert.ok(
            requests.some(
              (l) =>
                l.startsWith(`POST /api/v1/namespaces/default/configmaps?`) &&
                l.includes('fieldValidation=Strict'),
            ),
            requests.join('\n'),
          );

          const name = `web-${minor}`;
          const created = await run([
            'apply',
            '-f',
            file(
              'dep',
              deployment(name, { strategy: '{type: RollingUpdate, rollingUpdate: {maxSurge: 1}}' }),
            ),
          ]);
          succeeded(created, 'apply Deployment');
          assert.equal(created.stdout.trim(), `deployment.apps/${name} created`);

          // Update: a strategic merge patch computed from the published schema ($retainKeys drops
          // rollingUpdate when the type becomes Recreate).
          const changed = await run([
            'apply',
            '-f',
            file('dep2', deployment(name, { image: 'busybox:1.37', strategy: '{type: Recreate}' })),
          ]);
          succeeded(changed, 'apply changed Deployment');
          assert.equal(changed.stdout.trim(), `deployment.apps/${name} configured`);
          const live = (await k.get(`/apis/apps/v1/namespaces/default/deployments/${name}`)).body;
          assert.equal(live.spec.template.spec.containers[0].image, 'busybox:1.37');
          assert.deepEqual(live.spec.strategy, { type: 'Recreate' });

          const same = await run([
            'apply',
            '-f',
            file('dep2', deployment(name, { image: 'busybox:1.37', strategy: '{type: Recreate}' })),
          ]);
          succeeded(same, 'apply unchanged Deployment');
          assert.equal(same.stdout.trim(), `deployment.apps/${name} unchanged`);

          // An unknown field: refused by the server's strict validation, on create and on update.
          for (const objName of [`new-${minor}`, name]) {
            const bad = await run(['apply', '-f', file('bad', deployment(objName, { extra: 'bogus: 1' }))]);
            assert.notEqual(bad.code, 0, `${objName}: ${bad.stdout}`);
            assert.match(bad.stderr, /spec\.bogus: unknown field "bogus"/, objName);
          }
          assert.equal(
            (await k.get(`/apis/apps/v1/namespaces/default/deployments/new-${minor}`)).status,
            404,
          );
        });
      },
    );
  }
});
