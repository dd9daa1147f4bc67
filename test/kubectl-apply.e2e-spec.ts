import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
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
 * Server-side apply with managedFields, driven by real kubectl 1.29 and 1.33 (and berthctl)
 * against a control plane serving HTTPS: apply --server-side create/update/unchanged, fields
 * dropped from the file removed, conflicts between managers (409 printed by kubectl, exit code
 * non-zero) and --force-conflicts, --show-managed-fields, client-side apply followed by
 * server-side apply and the reverse (kubectl's managedFields migration), and berthctl and kubectl
 * writing the same object in turn.
 */

const MINORS = [29, 33];
const ROOT = path.resolve(__dirname, '..', '..');
const BERTHCTL = path.join(ROOT, 'bin', 'berthctl');
const DEPLOYS = '/apis/apps/v1/namespaces/default/deployments';
const CMS = '/api/v1/namespaces/default/configmaps';

interface Entry {
  manager: string;
  operation: string;
  subresource?: string;
  fieldsV1: Record<string, unknown>;
}

function deployment(
  name: string,
  o: {
    replicas?: number;
    image?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  } = {},
): string {
  const labels = o.labels ?? { app: 'web' };
  return [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    `  name: ${name}`,
    `  labels: ${JSON.stringify(labels)}`,
    ...(o.annotations ? [`  annotations: ${JSON.stringify(o.annotations)}`] : []),
    'spec:',
    ...(o.replicas !== undefined ? [`  replicas: ${o.replicas}`] : []),
    '  selector:',
    '    matchLabels: {app: web}',
    '  template:',
    '    metadata: {labels: {app: web}}',
    '    spec:',
    '      containers:',
    '      - name: main',
    `        image: ${o.image ?? 'busybox:1.36'}`,
    '        command: [sleep, "3600"]',
    '        ports: [{containerPort: 8080}]',
    '',
  ].join('\n');
}

function configMap(name: string, data: Record<string, string>): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata: ${JSON.stringify(data)}\n`;
}

function succeeded(r: KubectlResult, what: string): void {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

function managers(o: { metadata: { managedFields?: Entry[] } }): string[] {
  return (o.metadata.managedFields ?? [])
    .map((e) => `${e.manager}/${e.operation}${e.subresource ? `/${e.subresource}` : ''}`)
    .sort();
}

function owns(o: { metadata: { managedFields?: Entry[] } }, manager: string, fragment: string): boolean {
  const e = (o.metadata.managedFields ?? []).find((x) => x.manager === manager);
  return !!e && JSON.stringify(e.fieldsV1).includes(fragment);
}

/** The object without what the server sets per object (identity, versions, times, ownership). */
function comparable(o: any): any {
  const c = structuredClone(o);
  for (const k of ['name', 'uid', 'resourceVersion', 'creationTimestamp', 'managedFields', 'generation'])
    delete c.metadata[k];
  return c;
}

describe('server-side apply with managedFields: real kubectl and berthctl', () => {
  let cp: ControlPlane;
  let k: ApiCaller;
  const dir = tempDir('berth-kubectl-apply-');

  const berthctl = (args: string[]): Promise<KubectlResult> =>
    new Promise((resolve, reject) => {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        BERTH_SERVER: cp.url,
        BERTH_TOKEN: cp.token,
        BERTH_CA_FILE: cp.caFile,
        BERTH_CONFIG: path.join(dir.path, 'no-berth-config'),
      };
      const child = spawn(BERTHCTL, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });

  const live = async (p: string): Promise<any> => {
    const r = await k.get(p);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };

  before(async () => {
    cp = await startControlPlane({ extraArgs: ['--controllers', 'none'], tls: true });
    k = api(cp.url, cp.token, { ca: cp.ca });
  });

  after(async () => {
    await cp?.stop();
    dir.remove();
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
        const n = (base: string): string => `${base}-${minor}`;

        before(() => {
          target = {
            url: cp.url,
            token: cp.token,
            cacheDir: path.join(dir.path, `cache-${minor}`),
            caFile: cp.caFile,
          };
        });

        test('apply --server-side creates, updates, leaves an unchanged object alone, and removes a key dropped from the file', async () => {
          const name = n('ssa');
          const f = file(name, configMap(name, { a: '1', b: '2' }));
          let r = await run(['apply', '--server-side', '-f', f]);
          succeeded(r, 'create');
          assert.equal(r.stdout, `configmap/${name} serverside-applied\n`);
          const created = await live(`${CMS}/${name}`);
          assert.deepEqual(
            created.metadata.managedFields.map((e: Entry) => [e.manager, e.operation]),
            [['kubectl', 'Apply']],
          );
          assert.deepEqual(created.metadata.managedFields[0].fieldsV1, {
            'f:data': { 'f:a': {}, 'f:b': {} },
          });

          r = await run(['apply', '--server-side', '-f', f]);
          succeeded(r, 'unchanged');
          assert.equal(
            (await live(`${CMS}/${name}`)).metadata.resourceVersion,
            created.metadata.resourceVersion,
          );

          r = await run(['apply', '--server-side', '-f', file(name, configMap(name, { a: '3' }))]);
          succeeded(r, 'update');
          const updated = await live(`${CMS}/${name}`);
          assert.deepEqual(updated.data, { a: '3' }, 'b was dropped from the file and nobody else owns it');

          const shown = await run(['get', 'configmap', name, '-o', 'yaml', '--show-managed-fields']);
          succeeded(shown, 'get --show-managed-fields');
          assert.match(
            shown.stdout,
            /managedFields:\n {2}- apiVersion: v1\n {4}fieldsType: FieldsV1\n {4}fieldsV1:\n {6}f:data:\n {8}f:a: \{\}\n {4}manager: kubectl\n {4}operation: Apply\n {4}time: /,
          );
          const hidden = await run(['get', 'configmap', name, '-o', 'yaml']);
          assert.doesNotMatch(hidden.stdout, /managedFields/);
          // berthctl hides them too unless asked.
          const b = await berthctl(['get', 'configmap', name, '-o', 'yaml']);
          succeeded(b, 'berthctl get');
          assert.doesNotMatch(b.stdout, /managedFields/);
          const shownByBerthctl = await berthctl([
            'get',
            'configmap',
            name,
            '-o',
            'json',
            '--show-managed-fields',
          ]);
          succeeded(shownByBerthctl, 'berthctl get --show-managed-fields');
          assert.equal(JSON.parse(shownByBerthctl.stdout).metadata.managedFields[0].manager, 'kubectl');
        });

        test('a field another manager owns: kubectl prints the conflict and fails; --force-conflicts takes it over', async () => {
          const name = n('conflict');
          succeeded(
            await run([
              'apply',
              '--server-side',
              '--field-manager=alice',
              '-f',
              file(`${name}-a`, deployment(name, { replicas: 2 })),
            ]),
            'alice',
          );
          const bob = file(`${name}-b`, deployment(name, { replicas: 3 }));
          const refused = await run(['apply', '--server-side', '--field-manager=bob', '-f', bob]);
          assert.notEqual(refused.code, 0, refused.stdout);
          assert.match(
            refused.stderr,
            /Apply failed with 1 conflict: conflict with "alice": \.spec\.replicas/,
          );
          assert.match(refused.stderr, /--force-conflicts/);
          assert.equal((await live(`${DEPLOYS}/${name}`)).spec.replicas, 2, 'nothing written');

          succeeded(
            await run(['apply', '--server-side', '--field-manager=bob', '--force-conflicts', '-f', bob]),
            'forced',
          );
          const after = await live(`${DEPLOYS}/${name}`);
          assert.equal(after.spec.replicas, 3);
          assert.ok(owns(after, 'bob', 'f:replicas'));
          assert.ok(!owns(after, 'alice', 'f:replicas'), 'ownership moved to bob');
          assert.ok(owns(after, 'alice', 'f:image'), 'alice keeps the fields nobody took');

          // berthctl (which applies with force) owns the image; kubectl without force conflicts with it.
          succeeded(
            await berthctl([
              'apply',
              '-f',
              file(`${name}-berthctl`, deployment(name, { replicas: 3, image: 'busybox:1.37' })),
            ]),
            'berthctl',
          );
          const kr = await run([
            'apply',
            '--server-side',
            '-f',
            file(`${name}-k`, deployment(name, { replicas: 3, image: 'busybox:1.35' })),
          ]);
          assert.notEqual(kr.code, 0);
          assert.match(kr.stderr, /conflicts? with "berthctl"/);
          assert.match(kr.stderr, /\.spec\.template\.spec\.containers\[name="main"\]\.image/);
        });

        test('client-side apply, then server-side apply of an edited file, then client-side again: nothing is lost, dropped fields go', async () => {
          const name = n('csa');
          const v1 = deployment(name, { labels: { app: 'web', old: 'yes' }, replicas: 2 });
          let r = await run(['apply', '-f', file(`${name}-1`, v1)]);
          succeeded(r, 'client-side create');
          let o = await live(`${DEPLOYS}/${name}`);
          assert.deepEqual(managers(o), ['kubectl-client-side-apply/Update']);

          // Server-side apply of an edited file: no --force-conflicts needed for fields the
          // last-applied annotation holds; kubectl migrates the client-side ownership.
          const v2 = deployment(name, { labels: { app: 'web' }, replicas: 2, image: 'busybox:1.37' });
          r = await run(['apply', '--server-side', '-f', file(`${name}-2`, v2)]);
          succeeded(r, 'server-side after client-side');
          o = await live(`${DEPLOYS}/${name}`);
          assert.equal(o.spec.template.spec.containers[0].image, 'busybox:1.37');
          assert.deepEqual(o.metadata.labels, { app: 'web' }, 'the label dropped from the file is gone');
          assert.deepEqual(o.spec.template.spec.containers[0].command, ['sleep', '3600']);
          assert.equal(o.spec.replicas, 2);
          assert.deepEqual(managers(o), ['kubectl-last-applied/Apply', 'kubectl/Apply']);
          const annotation = JSON.parse(
            o.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'],
          );
          assert.equal(
            annotation.spec.template.spec.containers[0].image,
            'busybox:1.37',
            'the annotation follows the applied file',
          );

          // Back to client-side apply: removes what the file dropped, keeps the rest.
          const v3 = deployment(name, { labels: { app: 'web' }, image: 'busybox:1.37' });
          r = await run(['apply', '-f', file(`${name}-3`, v3)]);
          succeeded(r, 'client-side after server-side');
          assert.equal(r.stdout, `deployment.apps/${name} configured\n`);
          o = await live(`${DEPLOYS}/${name}`);
          assert.equal(o.spec.replicas, 1, 'replicas dropped from the file: removed, back to the default');
          assert.equal(o.spec.template.spec.containers[0].image, 'busybox:1.37');
          assert.equal(o.spec.template.spec.containers[0].ports[0].containerPort, 8080);
        });

        test('server-side apply, then client-side apply with more: every field stays', async () => {
          const name = n('ssa-csa');
          succeeded(
            await run(['apply', '--server-side', '-f', file(`${name}-1`, deployment(name, { replicas: 2 }))]),
            'ssa',
          );
          const r = await run([
            'apply',
            '-f',
            file(`${name}-2`, deployment(name, { replicas: 2, labels: { app: 'web', extra: 'x' } })),
          ]);
          succeeded(r, 'csa');
          const o = await live(`${DEPLOYS}/${name}`);
          assert.deepEqual(o.metadata.labels, { app: 'web', extra: 'x' });
          assert.equal(o.spec.replicas, 2);
          assert.equal(o.spec.template.spec.containers[0].image, 'busybox:1.36');
          assert.ok(owns(o, 'kubectl', 'f:replicas'));
          assert.ok(owns(o, 'kubectl-client-side-apply', 'f:extra'));
        });

        test('the same YAML applied by kubectl and by berthctl gives the same stored object (modulo managedFields and times)', async () => {
          const yaml = (name: string) => deployment(name, { replicas: 2, annotations: { note: 'same' } });
          succeeded(
            await run(['apply', '--server-side', '-f', file('same-k', yaml(n('same-k')))]),
            'kubectl',
          );
          succeeded(await berthctl(['apply', '-f', file('same-b', yaml(n('same-b')))]), 'berthctl');
          const byKubectl = await live(`${DEPLOYS}/${n('same-k')}`);
          const byBerthctl = await live(`${DEPLOYS}/${n('same-b')}`);
          assert.deepEqual(comparable(byKubectl), comparable(byBerthctl));
          assert.deepEqual(managers(byKubectl), ['kubectl/Apply']);
          assert.deepEqual(managers(byBerthctl), ['berthctl/Apply']);
          assert.deepEqual(
            byKubectl.metadata.managedFields[0].fieldsV1,
            byBerthctl.metadata.managedFields[0].fieldsV1,
          );
        });

        test("berthctl and kubectl edit the same object in turn without losing each other's fields", async () => {
          const name = n('turns');
          const mine = file(`${name}-berthctl`, deployment(name, { replicas: 2 }));
          succeeded(await berthctl(['apply', '-f', mine]), 'berthctl create');
          // kubectl: an update (label) and a server-side apply of other fields by another manager.
          succeeded(await run(['label', 'deployment', name, 'team=blue']), 'kubectl label');
          const ops = file(
            `${name}-ops`,
            `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\n  annotations: {owner: ops}\n`,
          );
          succeeded(
            await run(['apply', '--server-side', '--field-manager=ops', '-f', ops]),
            'kubectl apply ops',
          );
          // berthctl re-applies its file (with a new image): kubectl's label and annotation stay.
          succeeded(
            await berthctl([
              'apply',
              '-f',
              file(`${name}-berthctl`, deployment(name, { replicas: 2, image: 'busybox:1.37' })),
            ]),
            'berthctl again',
          );
          let o = await live(`${DEPLOYS}/${name}`);
          assert.equal(o.metadata.labels.team, 'blue');
          assert.equal(o.metadata.annotations.owner, 'ops');
          assert.equal(o.spec.template.spec.containers[0].image, 'busybox:1.37');
          // kubectl scales (an update): berthctl's next apply of an unchanged file puts its replicas back
          // (it applies with force), and ops' re-apply leaves berthctl's fields alone.
          succeeded(await run(['scale', 'deployment', name, '--replicas=5']), 'kubectl scale');
          assert.equal((await live(`${DEPLOYS}/${name}`)).spec.replicas, 5);
          succeeded(await run(['apply', '--server-side', '--field-manager=ops', '-f', ops]), 'ops again');
          o = await live(`${DEPLOYS}/${name}`);
          assert.equal(o.spec.replicas, 5);
          assert.equal(o.spec.template.spec.containers[0].image, 'busybox:1.37');
          assert.equal(o.metadata.labels.team, 'blue');
          const r = await berthctl(['apply', '-f', mine]);
          succeeded(r, 'berthctl after scale');
          o = await live(`${DEPLOYS}/${name}`);
          assert.equal(o.spec.replicas, 2);
          assert.equal(o.metadata.labels.team, 'blue');
          assert.equal(o.metadata.annotations.owner, 'ops');
        });
      },
    );
  }
});
