/**
 * bench/container-start: how long Berth takes from `POST /pods` to the pod's status showing its
 * container running, next to raw `runc run -d` of an equivalent bundle and `podman run -d
 * --network none` of the same image, all measured in this run.
 *   npm run bench -- container-start [--pods N]
 * A real cluster (redis-server, control plane, registry with a busybox image, one agent). One pod
 * runs first so the image is pulled and unpacked (not timed); then N pods `sleep 3600` are created
 * one after another, each timed from just before the POST to the arrival of the first watch event
 * that shows state.running. The runc and podman containers are started in the same rounds
 * (Berth, runc, podman, Berth, …), so a load spike from other work on the machine hits all three.
 * Every container keeps running until the end, then everything is removed. Ends with one JSON line.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { printTable, round, summarize } from '../common/stats';
import {
  type Cluster,
  PodWatch,
  containerId,
  createPod,
  deletePods,
  isRunning,
  nowMs,
  podManifest,
  quietly,
  startCluster,
} from './cluster';
import { Podman } from './podman';
import { RawRunc } from './runc';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const PODS = arg('pods', 20);
const SLEEP = ['sleep', '3600'];

type Figures = { p50: number | null; p99: number | null; n: number; mean: number | null };
const fig = (xs: number[]): Figures => {
  if (!xs.length) return { p50: null, p99: null, n: 0, mean: null };
  const s = summarize(xs);
  return { p50: round(s.p50), p99: round(s.p99), n: s.n, mean: round(s.mean) };
};

async function main(): Promise<void> {
  const berth: number[] = [];
  const runcMs: number[] = [];
  const podmanMs: number[] = [];
  const reasons: Record<string, string> = {};
  let cluster: Cluster | undefined;
  let watch: PodWatch | undefined;
  let runc: RawRunc | undefined;
  let podman: Podman | undefined;
  const pods: string[] = [];
  let exitCode = 0;
  try {
    let agentConfig: { json: string; dataDir: string } | undefined;
    try {
      cluster = await startCluster();
      watch = await PodWatch.open(cluster);
      const t0 = nowMs();
      const warm = watch.waitFor('warm', 'running', isRunning, 120_000);
      await createPod(cluster, podManifest(cluster, 'warm', { command: SLEEP }));
      const w = await warm;
      console.error(`warm-up pod (image pull + unpack + start): ${round(w.at - t0)} ms`);
      const id = containerId(w.pod);
      agentConfig = {
        json: readFileSync(path.join(cluster.agent.dataDir, 'bundles', id, 'config.json'), 'utf8'),
        dataDir: cluster.agent.dataDir,
      };
      await deletePods(cluster, ['warm']);
    } catch (e) {
      reasons.berth = `the Berth cluster did not run a pod: ${(e as Error).message.split('\n')[0]}`;
      console.error(reasons.berth);
      console.error(e);
    }

    runc = new RawRunc(agentConfig);
    // one untimed start each, as for Berth
    await runc.runDetached('warm', runc.bundle('warm', SLEEP));
    await runc.delete('warm');

    try {
      if (!cluster) throw new Error('no registry (the cluster did not start)');
      podman = await Podman.open();
      await podman.pull(cluster.image);
      await podman.runDetached('warm', cluster.image, SLEEP);
    } catch (e) {
      reasons.podman = (e as Error).message.split('\n')[0];
      console.error(`podman: ${reasons.podman}`);
    }

    for (let i = 0; i < PODS; i++) {
      if (cluster && watch && !reasons.berth) {
        const name = `start-${i}`;
        try {
          const running = watch.waitFor(name, 'running', isRunning);
          const t0 = nowMs();
          pods.push(name);
          await createPod(cluster, podManifest(cluster, name, { command: SLEEP }));
          berth.push((await running).at - t0);
        } catch (e) {
          reasons.berth = `pod ${name}: ${(e as Error).message.split('\n')[0]}`;
          console.error(reasons.berth);
        }
      }
      runcMs.push(await runc.runDetached(`start-${i}`, runc.bundle(`start-${i}`, SLEEP)));
      if (podman && !reasons.podman) {
        try {
          podmanMs.push(await podman.runDetached(`start-${i}`, cluster!.image, SLEEP));
        } catch (e) {
          reasons.podman = (e as Error).message.split('\n')[0];
          console.error(`podman: ${reasons.podman}`);
        }
      }
    }

    const b = fig(berth);
    const r = fig(runcMs);
    const p = fig(podmanMs);
    console.log(
      `\ncontainer start, ${PODS} containers each (busybox \`sleep 3600\`), one after another, all kept running`,
    );
    console.log(
      '  Berth:  POST /api/v1/namespaces/bench/pods → watch event with containerStatuses[0].state.running' +
        '\n          (API + store + watch → agent → overlay snapshot + bundle + conmon + runc create/start → status write → watch)',
    );
    console.log(
      '  runc:   spawn of `runc run -d` → its exit (process started), no overlay, no monitor, no API',
    );
    console.log(`          bundle: ${runc.configSource}`);
    console.log(
      `  podman: spawn of \`podman run -d --network none\` → its exit (${podman?.version ?? 'not run'}; image pulled first)`,
    );
    const row = (what: string, f: Figures, why?: string) => ({
      runtime: what,
      n: f.n,
      'p50 ms': f.p50 ?? '-',
      'p99 ms': f.p99 ?? '-',
      'mean ms': f.mean ?? '-',
      note: why ?? '',
    });
    printTable([
      row('Berth (API → running)', b, reasons.berth),
      row('runc run -d', r),
      row('podman run -d', p, reasons.podman),
    ]);
    if (b.p50 !== null && r.p50 !== null)
      console.log(`\nBerth p50 is ${round(b.p50 / r.p50, 1)}x raw runc's`);
    console.log(
      JSON.stringify({
        bench: 'container-start',
        pods: b.n,
        p50_ms: b.p50,
        p99_ms: b.p99,
        ...(reasons.berth ? { error: reasons.berth } : {}),
        peer: 'runc run',
        peer_p50_ms: r.p50,
        peer_p99_ms: r.p99,
        podman_p50_ms: p.p50,
        podman_p99_ms: p.p99,
        ...(reasons.podman ? { podman_error: reasons.podman } : {}),
      }),
    );
  } catch (e) {
    console.error(e);
    exitCode = 1;
  } finally {
    watch?.close();
    if (cluster && pods.length) await quietly('delete pods', () => deletePods(cluster!, pods));
    if (podman) await quietly('podman', () => podman!.cleanup());
    if (runc) await quietly('runc', () => runc!.cleanup());
    if (cluster) await quietly('cluster', () => cluster!.stop());
  }
  process.exit(exitCode);
}

void main();
