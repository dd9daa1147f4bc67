/**
 * bench/restart: how long a container that exits at once is down before its process runs again,
 * for Berth's FIRST restart (restartPolicy Always restarts the first exit without delay), next to
 * raw runc doing the same (run in the foreground, see it exit, run it again) in the same run.
 *   npm run bench -- restart [--pods N]
 *
 * Method (the same for both): the container runs
 *   sh -c 'if [ -e M ]; then echo second; exec sleep 3600; fi; : > M; echo first; exit 1'
 * so its first run prints "first" and exits 1 at once (echo, redirection and exit are shell
 * builtins: nothing runs between the line and the exit), and the second run prints "second" as
 * its first action. Each line is stamped when the reader of the container's stdout receives it:
 * for Berth that is conmon, whose CRI log lines carry nanosecond wall-clock times (run 1 is in
 * <id>.log.1 after the rotation, run 2 in <id>.log); for runc it is this process reading runc's
 * stdout pipe. time("second") − time("first") is then exit → new process running, plus busybox
 * sh's start-up in the second run (about a millisecond) on both sides. Berth's M is on an
 * emptyDir volume, which outlives the container's restart as in Kubernetes; runc's is in its
 * root directory. Ends with one JSON line.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { printTable, round, summarize } from '../common/stats';
import {
  type Cluster,
  type PodLike,
  PodWatch,
  containerId,
  createPod,
  deletePods,
  firstStatus,
  podManifest,
  quietly,
  sleep,
  startCluster,
} from '../container-start/cluster';
import { RawRunc, exec } from '../container-start/runc';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const PODS = arg('pods', 20);
const script = (marker: string) =>
  `if [ -e ${marker} ]; then echo second; exec sleep 3600; fi; : > ${marker}; echo first; exit 1`;

/** Wall-clock ms (sub-ms precision) of a CRI log line `TIME STREAM TAG TEXT`, if its text is `text`. */
export function criLineTime(line: string, text: string): number | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d) \S+ \S+ (.*)$/.exec(line);
  if (!m || m[4] !== text) return undefined;
  const whole = Date.parse(`${m[1]}${m[3]}`);
  return whole + (m[2] ? Number(`0${m[2]}`) * 1000 : 0);
}

function timeOfLine(file: string, text: string): number | undefined {
  if (!existsSync(file)) return undefined;
  for (const l of readFileSync(file, 'utf8').split('\n')) {
    const t = criLineTime(l, text);
    if (t !== undefined) return t;
  }
  return undefined;
}

type Figures = { p50: number | null; p99: number | null; n: number; mean: number | null };
const fig = (xs: number[]): Figures => {
  if (!xs.length) return { p50: null, p99: null, n: 0, mean: null };
  const s = summarize(xs);
  return { p50: round(s.p50), p99: round(s.p99), n: s.n, mean: round(s.mean) };
};

async function berthOnce(
  c: Cluster,
  watch: PodWatch,
  name: string,
): Promise<{ logMs: number; statusMs: number }> {
  const restarted = (p: PodLike) => {
    const s = firstStatus(p);
    return (s?.restartCount ?? 0) >= 1 && !!s?.state?.running;
  };
  const done = watch.waitFor(name, 'restarted once and running', restarted);
  await createPod(
    c,
    podManifest(c, name, {
      command: ['sh', '-c', script('/data/ran')],
      restartPolicy: 'Always',
      volumes: [{ name: 'data', emptyDir: {} }],
      volumeMounts: [{ name: 'data', mountPath: '/data' }],
    }),
  );
  const { pod } = await done;
  const log = path.join(c.agent.dataDir, 'logs', `${containerId(pod)}.log`);
  // conmon may write run 2's line a moment after the status says running
  let t1: number | undefined;
  let t2: number | undefined;
  for (let i = 0; i < 100 && (t1 === undefined || t2 === undefined); i++) {
    t1 = timeOfLine(`${log}.1`, 'first');
    t2 = timeOfLine(log, 'second');
    if (t1 === undefined || t2 === undefined) await sleep(50);
  }
  if (t1 === undefined || t2 === undefined)
    throw new Error(`pod ${name}: no "first" line in ${log}.1 or no "second" line in ${log}`);
  const s = firstStatus(pod) as {
    state?: { running?: { startedAt?: string } };
    lastState?: { terminated?: { finishedAt?: string } };
  };
  const statusMs =
    Date.parse(s.state?.running?.startedAt ?? '') - Date.parse(s.lastState?.terminated?.finishedAt ?? '');
  return { logMs: t2 - t1, statusMs };
}

async function runcOnce(runc: RawRunc, i: number): Promise<number> {
  const id = `restart-${i}`;
  const marker = '/tmp/ran';
  rmSync(path.join(runc.rootfs, marker), { force: true });
  const bundle = runc.bundle(id, ['sh', '-c', script(marker)]);
  let t1: number | undefined;
  let t2: number | undefined;
  const r1 = await runc.runForeground(id, bundle, (line, at) => {
    if (line === 'first') t1 = at;
  });
  if (r1.code !== 1) throw new Error(`runc run ${id} (first): exit ${r1.code}: ${r1.stderr}`);
  // `runc run` has deleted the container; run it again at once
  const r2 = await runc.runForeground(id, bundle, (line, at) => {
    if (line === 'second') {
      t2 = at;
      void exec('runc', ['--root', runc.root, 'kill', id, 'KILL']);
    }
  });
  await runc.delete(id);
  if (t1 === undefined || t2 === undefined)
    throw new Error(
      `runc ${id}: missing line (first ${t1}, second ${t2}); second run: ${r2.code} ${r2.stderr}`,
    );
  return t2 - t1;
}

async function main(): Promise<void> {
  const berthLog: number[] = [];
  const berthStatus: number[] = [];
  const runcMs: number[] = [];
  let berthError: string | undefined;
  let cluster: Cluster | undefined;
  let watch: PodWatch | undefined;
  let runc: RawRunc | undefined;
  let exitCode = 0;
  try {
    let agentConfig: { json: string; dataDir: string } | undefined;
    try {
      cluster = await startCluster();
      watch = await PodWatch.open(cluster);
      // pull the image and take the agent's config for the runc bundle
      const running = watch.waitFor('warm', 'running', (p) => !!firstStatus(p)?.state?.running, 120_000);
      await createPod(cluster, podManifest(cluster, 'warm', { command: ['sleep', '3600'] }));
      const { pod } = await running;
      agentConfig = {
        json: readFileSync(
          path.join(cluster.agent.dataDir, 'bundles', containerId(pod), 'config.json'),
          'utf8',
        ),
        dataDir: cluster.agent.dataDir,
      };
      await deletePods(cluster, ['warm']);
    } catch (e) {
      berthError = `the Berth cluster did not run a pod: ${(e as Error).message.split('\n')[0]}`;
      console.error(berthError);
      console.error(e);
    }
    runc = new RawRunc(agentConfig);
    for (let i = 0; i < PODS; i++) {
      if (cluster && watch && !berthError) {
        const name = `restart-${i}`;
        try {
          const r = await berthOnce(cluster, watch, name);
          berthLog.push(r.logMs);
          if (Number.isFinite(r.statusMs)) berthStatus.push(r.statusMs);
          await deletePods(cluster, [name]);
        } catch (e) {
          berthError = (e as Error).message.split('\n')[0];
          console.error(berthError);
        }
      }
      runcMs.push(await runcOnce(runc, i));
    }

    const b = fig(berthLog);
    const bs = fig(berthStatus);
    const r = fig(runcMs);
    console.log(`\nfirst restart of a container that exits at once, ${PODS} containers each (interleaved)`);
    console.log('  measured: time of the "second" line of run 2 − time of the "first" line of run 1, each');
    console.log("  stamped by the reader of the container's stdout (Berth: conmon's CRI log; runc: this");
    console.log('  process reading the pipe). run 1 exits right after its line; run 2 prints first thing.');
    console.log(`  runc bundle: ${runc.configSource}`);
    const row = (what: string, f: Figures, note = '') => ({
      runtime: what,
      n: f.n,
      'p50 ms': f.p50 ?? '-',
      'p99 ms': f.p99 ?? '-',
      'mean ms': f.mean ?? '-',
      note,
    });
    printTable([
      row('Berth (CRI log times)', b, berthError ?? ''),
      row('Berth (status, ms clock)', bs, 'finishedAt → startedAt as the agent reports them'),
      row('runc run, exit, runc run', r),
    ]);
    console.log(
      JSON.stringify({
        bench: 'restart',
        restarts: b.n,
        p50_ms: b.p50,
        p99_ms: b.p99,
        status_p50_ms: bs.p50,
        status_p99_ms: bs.p99,
        ...(berthError ? { error: berthError } : {}),
        peer: 'runc run',
        peer_p50_ms: r.p50,
        peer_p99_ms: r.p99,
      }),
    );
  } catch (e) {
    console.error(e);
    exitCode = 1;
  } finally {
    watch?.close();
    if (runc) await quietly('runc', () => runc!.cleanup());
    if (cluster) await quietly('cluster', () => cluster!.stop());
  }
  process.exit(exitCode);
}

void main();
