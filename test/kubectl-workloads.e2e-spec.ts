import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  Managed,
  TestRedis,
  api,
  buildBusyboxImage,
  haveKubectl,
  kubectl,
  kubectlPath,
  ok,
  sleep,
  startAgent,
  startControlPlane,
  startRegistry,
  tempDir,
  waitFor,
  type ApiCaller,
  type ControlPlane,
  type KubectlResult,
  type KubectlTarget,
  type TestAgent,
  type TestRegistry,
} from '@berth/testing';

/**
 * Real, unmodified kubectl (1.29 and 1.33) driving workloads on a real cluster: a TLS control
 * plane with every controller, a registry with two busybox tags, and an agent running the
 * containers with runc. Covers what people type every day: logs (-f, --tail, -c, --timestamps,
 * --limit-bytes, --since, deploy/NAME), scale (incl. --current-replicas), set image and rollout
 * status/history/undo/restart, describe pod/deployment/node, get all, delete (waits until gone)
 * and cluster-info. Each kubectl version works in its own namespace; everything is deleted before
 * the agent stops.
 */

const MINORS = [29, 33];
const isRoot = process.getuid?.() === 0 && existsSync('/usr/sbin/runc') && existsSync('/usr/bin/conmon');

function succeeded(r: KubectlResult, what: string): void {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

function failed(r: KubectlResult, what: string): void {
  assert.equal(
    r.code,
    1,
    `${what}: expected exit 1, got ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
  );
}

/** A shell loop that ends at once on SIGTERM (pid 1 has no default signal handlers). */
const sh = (script: string): string[] => ['sh', '-c', `trap "exit 0" TERM; ${script}`];

function pod(
  ns: string,
  name: string,
  containers: Array<{ name: string; command: string[] }>,
  image: string,
) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 2,
      containers: containers.map((c) => ({ ...c, image })),
    },
  };
}

function deployment(ns: string, name: string, image: string, replicas = 1) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: 'main',
              image,
              command: sh(`echo "hello from ${name}"; while true; do sleep 1; done`),
            },
          ],
        },
      },
    },
  };
}

describe(
  'real kubectl: logs, scale, rollout, describe, delete, get all and cluster-info on a real cluster',
  { skip: !isRoot && 'needs root, runc and conmon' },
  () => {
    let redis: TestRedis;
    let cp: ControlPlane;
    let reg: TestRegistry;
    let agent: TestAgent;
    let k: ApiCaller;
    let v1: string;
    let v2: string;
    const node = `kw-${process.pid}`;
    const dir = tempDir('berth-kubectl-workloads-');
    const namespaces = MINORS.map((m) => `kw${m}`);

    before(async () => {
      redis = await TestRedis.start();
      cp = await startControlPlane({ tls: true, redisUrl: redis.url, extraArgs: ['--controllers', '*'] });
      k = api(cp.url, cp.token, { ca: cp.ca });
      reg = await startRegistry();
      v1 = (await buildBusyboxImage(reg, 'kw/busybox', 'v1', { format: 'v2s2' })).ref;
      v2 = (
        await buildBusyboxImage(reg, 'kw/busybox', 'v2', {
          format: 'v2s2',
          extraLayers: [{ files: { '/v2': 'v2' } }],
        })
      ).ref;
      agent = await startAgent({
        server: cp.url,
        token: cp.token,
        caFile: cp.caFile,
        nodeName: node,
        extraArgs: ['--heartbeat-interval', '1s'],
      });
      for (const ns of namespaces)
        await ok(k.post('/api/v1/namespaces', { metadata: { name: ns } }), `namespace ${ns}`);
    });

    after(async () => {
      // Workloads first, so the agent stops their containers; then the processes.
      if (k) {
        for (const ns of namespaces) {
          const deps = (await k.get(`/apis/apps/v1/namespaces/${ns}/deployments`)).body.items ?? [];
          for (const d of deps)
            await k
              .delete(`/apis/apps/v1/namespaces/${ns}/deployments/${d.metadata.name}`)
              .catch(() => undefined);
          const pods = (await k.get(`/api/v1/namespaces/${ns}/pods`)).body.items ?? [];
          for (const p of pods)
            await k.delete(`/api/v1/namespaces/${ns}/pods/${p.metadata.name}`).catch(() => undefined);
        }
        await waitFor(
          'every pod gone',
          async () => ((await k.get('/api/v1/pods')).body.items ?? []).length === 0,
          60_000,
        ).catch(() => undefined);
        await sleep(3000); // the agent stops the containers of deleted pods
      }
      await agent?.stop();
      await reg?.stop();
      await cp?.stop();
      await redis?.stop();
      dir.remove();
    });

    /** Established TCP connections to the agent's endpoint (the control plane's log streams). */
    const agentConnections = (): number =>
      execFileSync('ss', ['-Htn', 'state', 'established', 'dst', `127.0.0.1:${agent.port}`], {
        encoding: 'utf8',
      })
        .split('\n')
        .filter((l) => l.trim() !== '').length;
    const podsOf = async (ns: string, app: string): Promise<any[]> =>
      (await ok(k.get(`/api/v1/namespaces/${ns}/pods?labelSelector=app%3D${app}`), 'pods')).items;
    const running = (p: any): boolean =>
      p.status?.phase === 'Running' &&
      !p.metadata.deletionTimestamp &&
      (p.status?.containerStatuses ?? []).every((c: any) => c.ready);
    const createPod = async (ns: string, obj: unknown): Promise<void> => {
      await ok(k.post(`/api/v1/namespaces/${ns}/pods`, obj), 'create pod');
      const name = (obj as any).metadata.name;
      await waitFor(
        `pod ${name} running`,
        async () => running(await ok(k.get(`/api/v1/namespaces/${ns}/pods/${name}`), name)),
        90_000,
      );
    };

    for (const minor of MINORS) {
      describe(
        `kubectl 1.${minor}`,
        { skip: !haveKubectl(minor) && `kubectl.1.${minor} is not installed` },
        () => {
          const ns = `kw${minor}`;
          let target: KubectlTarget;
          const run = (args: string[], timeoutMs = 120_000): Promise<KubectlResult> =>
            kubectl(minor, target, ['-n', ns, ...args], { timeoutMs });
          const jsonpath = async (args: string[], expr: string): Promise<string> => {
            const r = await run([...args, '-o', `jsonpath=${expr}`]);
            succeeded(r, `${args.join(' ')} -o jsonpath`);
            return r.stdout;
          };

          before(() => {
            target = {
              url: cp.url,
              token: cp.token,
              cacheDir: path.join(dir.path, `cache-${minor}`),
              caFile: cp.caFile,
            };
          });

          test('logs POD prints the container log; --tail, --timestamps, --limit-bytes, --since', async () => {
            await createPod(
              ns,
              pod(
                ns,
                'talker',
                [
                  {
                    name: 'main',
                    command: sh('for i in 1 2 3 4 5; do echo line-$i; done; while true; do sleep 1; done'),
                  },
                ],
                v1,
              ),
            );
            await waitFor('five lines logged', async () =>
              (await run(['logs', 'talker'])).stdout.includes('line-5'),
            );
            const all = await run(['logs', 'talker']);
            succeeded(all, 'logs');
            assert.equal(all.stdout, 'line-1\nline-2\nline-3\nline-4\nline-5\n');
            assert.equal(all.stderr, '');

            const tail = await run(['logs', 'talker', '--tail', '2']);
            succeeded(tail, 'logs --tail 2');
            assert.equal(tail.stdout, 'line-4\nline-5\n');
            const tail0 = await run(['logs', 'pod/talker', '--tail=0']);
            succeeded(tail0, 'logs --tail=0');
            assert.equal(tail0.stdout, '');

            const stamped = await run(['logs', 'talker', '--timestamps']);
            succeeded(stamped, 'logs --timestamps');
            const lines = stamped.stdout.trimEnd().split('\n');
            assert.equal(lines.length, 5, stamped.stdout);
            lines.forEach((l, i) =>
              assert.match(
                l,
                new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d{1,9})?Z line-${i + 1}$`),
              ),
            );

            const limited = await run(['logs', 'talker', '--limit-bytes', '10']);
            succeeded(limited, 'logs --limit-bytes 10');
            assert.equal(limited.stdout, 'line-1\nlin');

            const recent = await run(['logs', 'talker', '--since', '1h']);
            succeeded(recent, 'logs --since 1h');
            assert.equal(recent.stdout, all.stdout);
            await sleep(2500);
            const none = await run(['logs', 'talker', '--since', '2s']);
            succeeded(none, 'logs --since 2s');
            assert.equal(none.stdout, '', 'every line is older than 2 s');
            const sinceTime = await run([
              'logs',
              'talker',
              `--since-time=${new Date(Date.now() - 3600_000).toISOString()}`,
            ]);
            succeeded(sinceTime, 'logs --since-time');
            assert.equal(sinceTime.stdout, all.stdout);

            const missing = await run(['logs', 'nope']);
            failed(missing, 'logs of a missing pod');
            assert.match(missing.stderr, /pods "nope" not found/);
          });

          test('logs -f streams new lines as they are written until kubectl is killed', async () => {
            await createPod(
              ns,
              pod(
                ns,
                'ticker',
                [
                  {
                    name: 'main',
                    command: sh('i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.5; done'),
                  },
                ],
                v1,
              ),
            );
            const f = new Managed(
              `kubectl 1.${minor} logs -f`,
              kubectlPath(minor),
              [
                `--server=${cp.url}`,
                `--token=${cp.token}`,
                `--certificate-authority=${cp.caFile}`,
                `--cache-dir=${target.cacheDir}`,
                '-n',
                ns,
                'logs',
                '-f',
                'ticker',
              ],
              { env: { ...process.env, KUBECONFIG: path.join(target.cacheDir, 'no-kubeconfig') } },
            );
            try {
              const first = await f.waitForOutput(/tick-(\d+)\n/, 30_000);
              const n = Number(first[1]);
              // Lines written after kubectl started arrive while it keeps running.
              await f.waitForOutput(new RegExp(`tick-${n + 3}\\n`), 30_000);
              assert.ok(f.running, 'kubectl logs -f is still following');
              assert.ok(agentConnections() >= 1, 'a stream from the agent while kubectl follows');
              const ticks = [...f.output.matchAll(/tick-(\d+)/g)].map((m) => Number(m[1]));
              assert.deepEqual(
                ticks,
                ticks.map((_, i) => ticks[0] + i),
                'lines in order, none missing',
              );
            } finally {
              f.child.kill('SIGTERM');
              await f.exited;
            }
            assert.equal(f.running, false);
            // the control plane notices kubectl went away and closes its stream from the agent
            await waitFor(
              'no log stream left open to the agent',
              async () => agentConnections() === 0,
              15_000,
            );
          });

          test('logs -c picks the container of a two-container pod; without -c the first is defaulted', async () => {
            await createPod(
              ns,
              pod(
                ns,
                'duo',
                [
                  { name: 'first', command: sh('echo I am first; while true; do sleep 1; done') },
                  { name: 'second', command: sh('echo I am second; while true; do sleep 1; done') },
                ],
                v1,
              ),
            );
            await waitFor(
              'both logged',
              async () => (await run(['logs', 'duo', '-c', 'second'])).stdout !== '',
            );
            const second = await run(['logs', 'duo', '-c', 'second']);
            succeeded(second, 'logs -c second');
            assert.equal(second.stdout, 'I am second\n');
            const first = await run(['logs', 'duo', '--container=first']);
            succeeded(first, 'logs --container=first');
            assert.equal(first.stdout, 'I am first\n');
            const dflt = await run(['logs', 'duo']);
            succeeded(dflt, 'logs without -c');
            assert.equal(dflt.stdout, 'I am first\n');
            assert.match(dflt.stderr, /Defaulted container "first" out of: first, second/);
            const all = await run(['logs', 'duo', '--all-containers', '--prefix']);
            succeeded(all, 'logs --all-containers --prefix');
            assert.match(all.stdout, /^\[pod\/duo\/first\] I am first$/m);
            assert.match(all.stdout, /^\[pod\/duo\/second\] I am second$/m);
            const bad = await run(['logs', 'duo', '-c', 'third']);
            failed(bad, 'logs -c of a missing container');
            assert.match(bad.stderr, /container third is not valid for pod duo/);
          });

          test('logs deploy/NAME reads a pod the Deployment selects', async () => {
            await ok(
              k.post(`/apis/apps/v1/namespaces/${ns}/deployments`, deployment(ns, 'web', v1)),
              'create web',
            );
            await waitFor('web pod running', async () => (await podsOf(ns, 'web')).some(running), 90_000);
            await waitFor('web logged', async () => (await run(['logs', 'deploy/web'])).stdout !== '');
            const r = await run(['logs', 'deploy/web']);
            succeeded(r, 'logs deploy/web');
            assert.equal(r.stdout, 'hello from web\n');
          });

          test('scale deploy/NAME --replicas; --current-replicas must match (exit 1 with the precondition message)', async () => {
            const r = await run(['scale', 'deploy/web', '--replicas', '2']);
            succeeded(r, 'scale --replicas 2');
            assert.equal(r.stdout, 'deployment.apps/web scaled\n');
            await waitFor(
              '2 web pods running',
              async () => (await podsOf(ns, 'web')).filter(running).length === 2,
              90_000,
            );

            const right = await run(['scale', 'deployment', 'web', '--current-replicas=2', '--replicas=3']);
            succeeded(right, 'scale --current-replicas=2 --replicas=3');
            assert.equal(right.stdout, 'deployment.apps/web scaled\n');
            assert.equal(await jsonpath(['get', 'deploy', 'web'], '{.spec.replicas}'), '3');

            const wrong = await run(['scale', 'deploy/web', '--current-replicas=1', '--replicas=5']);
            failed(wrong, 'scale with a wrong --current-replicas');
            assert.match(wrong.stderr, /Expected replicas to be 1, was 3/);
            assert.equal(await jsonpath(['get', 'deploy', 'web'], '{.spec.replicas}'), '3', 'not scaled');

            const back = await run(['scale', 'deploy/web', '--replicas=1']);
            succeeded(back, 'scale back to 1');
            const st = await run(['rollout', 'status', 'deploy/web', '--timeout=120s'], 150_000);
            succeeded(st, 'rollout status after scaling');
            await waitFor('1 web pod', async () => (await podsOf(ns, 'web')).length === 1, 60_000);
          });

          test('set image, rollout status waits until done, history lists revisions, undo brings the image back, restart', async () => {
            const set = await run(['set', 'image', 'deploy/web', `main=${v2}`]);
            succeeded(set, 'set image');
            assert.equal(set.stdout, 'deployment.apps/web image updated\n');
            const st = await run(['rollout', 'status', 'deploy/web', '--timeout=120s'], 150_000);
            succeeded(st, 'rollout status');
            assert.match(st.stdout, /deployment "web" successfully rolled out\n$/);
            // done means done: the new ReplicaSet's pod is ready and the old ReplicaSet is scaled to 0
            const rss: any[] = (
              await ok(k.get(`/apis/apps/v1/namespaces/${ns}/replicasets?labelSelector=app%3Dweb`), 'rs')
            ).items;
            const byImage = (img: string) =>
              rss.find((rs) => rs.spec.template.spec.containers[0].image === img);
            assert.equal(byImage(v2)?.status?.readyReplicas, 1, 'the new ReplicaSet has its ready pod');
            assert.equal(byImage(v1)?.spec.replicas, 0, 'the old ReplicaSet is scaled down');
            assert.equal(await jsonpath(['get', 'deploy', 'web'], '{.status.updatedReplicas}'), '1');
            assert.equal(await jsonpath(['get', 'deploy', 'web'], '{.status.availableReplicas}'), '1');

            const hist = await run(['rollout', 'history', 'deploy/web']);
            succeeded(hist, 'rollout history');
            assert.match(hist.stdout, /^deployment\.apps\/web $/m);
            assert.match(hist.stdout, /^REVISION\s+CHANGE-CAUSE$/m);
            assert.match(hist.stdout, /^1\s+<none>$/m);
            assert.match(hist.stdout, /^2\s+<none>$/m);
            const rev2 = await run(['rollout', 'history', 'deploy/web', '--revision=2']);
            succeeded(rev2, 'rollout history --revision=2');
            assert.match(rev2.stdout, /with revision #2/);
            assert.ok(rev2.stdout.includes(`Image:\t${v2}`) || rev2.stdout.includes(v2), rev2.stdout);

            const undo = await run(['rollout', 'undo', 'deploy/web']);
            succeeded(undo, 'rollout undo');
            assert.equal(undo.stdout, 'deployment.apps/web rolled back\n');
            const st2 = await run(['rollout', 'status', 'deploy/web', '--timeout=120s'], 150_000);
            succeeded(st2, 'rollout status after undo');
            assert.equal(
              await jsonpath(['get', 'deploy', 'web'], '{.spec.template.spec.containers[0].image}'),
              v1,
            );
            await waitFor(
              'the pods run the old image again',
              async () => {
                const ps = await podsOf(ns, 'web');
                return ps.length === 1 && ps.every((p) => p.spec.containers[0].image === v1 && running(p));
              },
              90_000,
            );
            const hist2 = await run(['rollout', 'history', 'deploy/web']);
            succeeded(hist2, 'rollout history after undo');
            assert.match(hist2.stdout, /^2\s+<none>$/m);
            assert.match(hist2.stdout, /^3\s+<none>$/m);
            assert.doesNotMatch(hist2.stdout, /^1\s/m, 'revision 1 became 3');

            const before = (await podsOf(ns, 'web')).map((p) => p.metadata.name);
            const restart = await run(['rollout', 'restart', 'deploy/web']);
            succeeded(restart, 'rollout restart');
            assert.equal(restart.stdout, 'deployment.apps/web restarted\n');
            const st3 = await run(['rollout', 'status', 'deploy/web', '--timeout=120s'], 150_000);
            succeeded(st3, 'rollout status after restart');
            assert.match(
              await jsonpath(['get', 'deploy', 'web'], '{.spec.template.metadata.annotations}'),
              /kubectl\.kubernetes\.io\/restartedAt/,
            );
            await waitFor(
              'a new pod replaced the old one',
              async () => {
                const ps = await podsOf(ns, 'web');
                return ps.length === 1 && !before.includes(ps[0].metadata.name) && running(ps[0]);
              },
              90_000,
            );
          });

          test('describe pod, deployment and node: sections and events, no errors', async () => {
            const p = await run(['describe', 'pod', 'talker']);
            succeeded(p, 'describe pod');
            assert.equal(p.stderr, '');
            for (const line of [
              /^Name:\s+talker$/m,
              new RegExp(`^Namespace:\\s+${ns}$`, 'm'),
              new RegExp(`^Node:\\s+${node}/127\\.0\\.0\\.1$`, 'm'),
              /^Status:\s+Running$/m,
              /^Containers:$/m,
              /^ {2}main:$/m,
              new RegExp(`^ {4}Image:\\s+${v1.replace(/[.]/g, '\\.')}$`, 'm'),
              /^ {4}State:\s+Running$/m,
              /^ {4}Ready:\s+True$/m,
              /^ {4}Restart Count:\s+0$/m,
              /^Conditions:$/m,
              /^QoS Class:\s+BestEffort$/m,
              /^Events:$/m,
              /Scheduled\s+.*Successfully assigned/,
              /Started\s+/,
            ])
              assert.match(p.stdout, line);

            const d = await run(['describe', 'deployment', 'web']);
            succeeded(d, 'describe deployment');
            assert.equal(d.stderr, '');
            for (const line of [
              /^Name:\s+web$/m,
              /^Selector:\s+app=web$/m,
              /^Replicas:\s+1 desired \| 1 updated \| 1 total \| 1 available \| 0 unavailable$/m,
              /^StrategyType:\s+RollingUpdate$/m,
              /^RollingUpdateStrategy:\s+0 max unavailable, 1 max surge$/m,
              /^Pod Template:$/m,
              /^Conditions:$/m,
              /^\s+Available\s+True\s+MinimumReplicasAvailable$/m,
              /^\s+Progressing\s+True\s+NewReplicaSetAvailable$/m,
              /^OldReplicaSets:/m,
              /^NewReplicaSet:\s+web-\S+ \(1\/1 replicas created\)$/m,
              /^Events:$/m,
              /ScalingReplicaSet/,
            ])
              assert.match(d.stdout, line);

            const n = await run(['describe', 'node', node]);
            succeeded(n, 'describe node');
            assert.equal(n.stderr, '');
            for (const line of [
              new RegExp(`^Name:\\s+${node}$`, 'm'),
              /^Conditions:$/m,
              /^\s+Ready\s+True\s/m,
              /^Addresses:$/m,
              /^Capacity:$/m,
              /^Allocatable:$/m,
              /^System Info:$/m,
              /^Non-terminated Pods:/m,
              new RegExp(`^\\s+${ns}\\s+talker\\s`, 'm'),
              /^Allocated resources:$/m,
              /^Events:/m,
            ])
              assert.match(n.stdout, line);
          });

          test('get all lists pods, deployments and replicasets', async () => {
            const r = await run(['get', 'all']);
            succeeded(r, 'get all');
            assert.match(r.stdout, /^pod\/talker\s+1\/1\s+Running\s/m);
            assert.match(r.stdout, /^pod\/duo\s+2\/2\s+Running\s/m);
            assert.match(r.stdout, /^deployment\.apps\/web\s+1\/1\s+1\s+1\s/m);
            assert.match(r.stdout, /^replicaset\.apps\/web-\S+\s+1\s+1\s+1\s/m);
          });

          test('delete pod and delete deploy wait until the object is gone and exit 0', async () => {
            const p = await run(['delete', 'pod', 'talker', '--timeout=60s'], 90_000);
            succeeded(p, 'delete pod');
            assert.equal(p.stdout, 'pod "talker" deleted\n');
            const gone = await run(['get', 'pod', 'talker']);
            failed(gone, 'get a deleted pod');
            assert.match(gone.stderr, /pods "talker" not found/);

            const d = await run(['delete', 'deploy', 'web', '--timeout=60s'], 90_000);
            succeeded(d, 'delete deploy');
            assert.equal(d.stdout, 'deployment.apps "web" deleted\n');
            assert.equal((await k.get(`/apis/apps/v1/namespaces/${ns}/deployments/web`)).status, 404);
            // the garbage collector removes the ReplicaSet and its pods
            await waitFor('web pods gone', async () => (await podsOf(ns, 'web')).length === 0, 60_000);

            const rest = await run(['delete', 'pod', 'duo', 'ticker', '--timeout=60s'], 90_000);
            succeeded(rest, 'delete two pods');
            assert.equal(rest.stdout, 'pod "duo" deleted\npod "ticker" deleted\n');
          });

          test('cluster-info says where the control plane runs; services are read-only and empty', async () => {
            const r = await run(['cluster-info']);
            succeeded(r, 'cluster-info');
            // kubectl 1.29 colours these words even when stdout is not a terminal
            const plain = r.stdout.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '');
            assert.match(
              plain,
              new RegExp(`^Kubernetes control plane is running at ${cp.url.replace(/[.]/g, '\\.')}$`, 'm'),
            );
            assert.equal(r.stderr, '');
            const svc = await run(['get', 'svc']);
            succeeded(svc, 'get svc');
            assert.equal(svc.stdout, '');
            assert.equal(svc.stderr, `No resources found in ${ns} namespace.\n`);
            const create = await run(['create', 'service', 'clusterip', 'web', '--tcp=80']);
            failed(create, 'create service');
            assert.match(create.stderr, /Berth has no Services yet/);
          });
        },
      );
    }
  },
);
