/**
 * bench/agent-memory: the Berth agent's resident memory when idle after registering its Node, and
 * with N running containers, next to what the per-container monitors (conmon) of those same
 * containers take, measured in this run.
 *   npm run bench -- agent-memory [--pods N] [--settle SECONDS]
 * A real cluster (redis-server, control plane, registry with a busybox image, one agent). Idle:
 * VmRSS of the agent's node process (from /proc/<pid>/status) after SECONDS with no pods. Loaded:
 * N pods `sleep 3600` created (8 at a time), all running, then SECONDS of quiet, then VmRSS
 * again. Peer: the sum of VmRSS of the N conmon processes (their pids from the agent's monitor
 * pid files). RSS counts shared pages (libc, glib) once per process, so PSS (from smaps_rollup,
 * shared pages divided among their users) is shown as well. Ends with one JSON line.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { printTable, round } from '../common/stats';
import {
  type Cluster,
  PodWatch,
  createPod,
  deletePods,
  isRunning,
  memoryOf,
  podManifest,
  quietly,
  sleep,
  startCluster,
} from '../container-start/cluster';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const PODS = arg('pods', 50);
const SETTLE_S = arg('settle', 10);
const mb = (kb: number): number => round(kb / 1024, 1);

/** Samples the process every second for `seconds`; returns the last sample and the highest RSS seen. */
async function settle(
  pid: number,
  seconds: number,
): Promise<{ rssKb: number; pssKb: number; maxRssKb: number }> {
  let last = memoryOf(pid);
  let maxRssKb = last.rssKb;
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    last = memoryOf(pid);
    maxRssKb = Math.max(maxRssKb, last.rssKb);
  }
  return { rssKb: last.rssKb, pssKb: last.pssKb, maxRssKb };
}

function conmonPids(dataDir: string): number[] {
  const dir = path.join(dataDir, 'state', 'monitor');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.conmon.pid'))
    .map((f) => Number(readFileSync(path.join(dir, f), 'utf8').trim()))
    .filter((p) => p > 1);
}

async function main(): Promise<void> {
  let cluster: Cluster | undefined;
  let watch: PodWatch | undefined;
  const pods: string[] = [];
  let exitCode = 0;
  try {
    cluster = await startCluster();
    const pid = cluster.agent.proc.child.pid;
    if (!pid) throw new Error('no agent pid');
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    if (comm !== 'node') throw new Error(`agent pid ${pid} is "${comm}", not the node process`);
    watch = await PodWatch.open(cluster);
    const idle = await settle(pid, SETTLE_S);

    const t0 = Date.now();
    const names = Array.from({ length: PODS }, (_, i) => `mem-${i}`);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (;;) {
          const i = next++;
          if (i >= names.length) return;
          const running = watch!.waitFor(names[i], 'running', isRunning, 180_000);
          pods.push(names[i]);
          await createPod(cluster!, podManifest(cluster!, names[i], { command: ['sleep', '3600'] }));
          await running;
        }
      }),
    );
    const startSecs = round((Date.now() - t0) / 1000, 1);
    const peakDuringStart = memoryOf(pid).hwmKb;
    const loaded = await settle(pid, SETTLE_S);

    const monitors = conmonPids(cluster.agent.dataDir);
    let conmonRss = 0;
    let conmonPss = 0;
    for (const p of monitors) {
      const m = memoryOf(p);
      conmonRss += m.rssKb;
      conmonPss += m.pssKb;
    }

    console.log(
      `\nBerth agent memory (node process ${pid}), idle after registration and with ${PODS} running containers`,
    );
    console.log(
      `(${PODS} pods started in ${startSecs} s, 8 at a time; each figure after ${SETTLE_S} s of quiet)`,
    );
    printTable([
      {
        what: 'agent idle (registered, no pods)',
        'rss MB': mb(idle.rssKb),
        'pss MB': mb(idle.pssKb),
        'max rss MB': mb(idle.maxRssKb),
      },
      {
        what: `agent with ${PODS} running containers`,
        'rss MB': mb(loaded.rssKb),
        'pss MB': mb(loaded.pssKb),
        'max rss MB': mb(Math.max(loaded.maxRssKb, peakDuringStart)),
      },
      {
        what: `  growth per container`,
        'rss MB': round((loaded.rssKb - idle.rssKb) / 1024 / PODS, 2),
        'pss MB': round((loaded.pssKb - idle.pssKb) / 1024 / PODS, 2),
        'max rss MB': '',
      },
      {
        what: `peer: conmon x${monitors.length} (sum)`,
        'rss MB': mb(conmonRss),
        'pss MB': mb(conmonPss),
        'max rss MB': '',
      },
      {
        what: '  per conmon',
        'rss MB': round(conmonRss / 1024 / (monitors.length || 1), 2),
        'pss MB': round(conmonPss / 1024 / (monitors.length || 1), 2),
        'max rss MB': '',
      },
    ]);
    console.log('(max rss: VmHWM, the peak since the agent started)');
    console.log(
      JSON.stringify({
        bench: 'agent-memory',
        pods: PODS,
        idle_rss_mb: mb(idle.rssKb),
        rss_50_mb: mb(loaded.rssKb),
        idle_pss_mb: mb(idle.pssKb),
        pss_50_mb: mb(loaded.pssKb),
        peak_rss_mb: mb(Math.max(loaded.maxRssKb, peakDuringStart)),
        peer: `conmon x${monitors.length}`,
        peer_rss_mb: mb(conmonRss),
        peer_pss_mb: mb(conmonPss),
      }),
    );
  } catch (e) {
    console.error(e);
    exitCode = 1;
  } finally {
    watch?.close();
    if (cluster && pods.length) await quietly('delete pods', () => deletePods(cluster!, pods, 120_000));
    if (cluster) await quietly('cluster', () => cluster!.stop());
  }
  process.exit(exitCode);
}

void main();
