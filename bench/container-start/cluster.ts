/**
 * A real one-node Berth cluster for the container benchmarks (also used by bench/restart and
 * bench/agent-memory): redis-server, the control plane, a Distribution registry holding a busybox
 * image, and one agent. stop() stops everything it started, in reverse order, even after a
 * partial start; the agent harness removes every container, mount and cgroup it made.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { removeCgroup } from './cgroups';
import {
  TestRedis,
  api,
  buildBusyboxImage,
  startAgent,
  startControlPlane,
  startRegistry,
  type ApiCaller,
  type ControlPlane,
  type TestAgent,
  type TestRegistry,
} from '@berth/testing';

export const NAMESPACE = 'bench';

export interface Cluster {
  redis: TestRedis;
  cp: ControlPlane;
  reg: TestRegistry;
  agent: TestAgent;
  k: ApiCaller;
  /** 127.0.0.1:PORT/bench/busybox:v1 */
  image: string;
  node: string;
  /** UIDs of the pods created through createPod (their cgroups are checked at stop). */
  podUids: Set<string>;
  stop(): Promise<void>;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wall-clock milliseconds with sub-millisecond precision (same clock as CRI log timestamps). */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** Runs `fn` for cleanup and reports (never throws) so one failed step does not skip the rest. */
export async function quietly(what: string, fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (e) {
    console.error(`cleanup: ${what}: ${(e as Error).message}`);
  }
}

export async function startCluster(agentArgs: string[] = []): Promise<Cluster> {
  const stops: Array<[string, () => Promise<void>]> = [];
  const podUids = new Set<string>();
  const stopAll = async () => {
    for (const [what, fn] of stops.reverse()) await quietly(what, fn);
  };
  try {
    const redis = await TestRedis.start();
    stops.push(['redis', () => redis.stop()]);
    const cp = await startControlPlane({ redisUrl: redis.url });
    stops.push(['control plane', () => cp.stop()]);
    const reg = await startRegistry();
    stops.push(['registry', () => reg.stop()]);
    const image = (await buildBusyboxImage(reg, 'bench/busybox', 'v1', { format: 'v2s2' })).ref;
    const node = `bench-${process.pid}`;
    // after the agent has stopped (stops run in reverse): it may leave a deleted pod's empty
    // parent cgroup (/berth/<uid>) behind; remove ours
    stops.push(['pod cgroups', async () => podCgroups(podUids)]);
    const agent = await startAgent({
      server: cp.url,
      token: cp.token,
      nodeName: node,
      extraArgs: agentArgs,
      readyTimeoutMs: 60_000,
    });
    stops.push(['agent', () => agent.stop()]);
    const k = api(cp.url, cp.token);
    const ns = await k.post('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NAMESPACE },
    });
    if (ns.status >= 300) throw new Error(`cannot create namespace: ${JSON.stringify(ns.body)}`);
    return { redis, cp, reg, agent, k, image, node, podUids, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

export interface PodSpecOptions {
  command: string[];
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  volumes?: unknown[];
  volumeMounts?: unknown[];
}

/**
 * A pod bound to the bench node (Berth has no scheduler yet, so spec.nodeName is set here: the
 * figures are API → agent → runtime, without scheduling).
 */
export function podManifest(c: Cluster, name: string, o: PodSpecOptions): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      nodeName: c.node,
      restartPolicy: o.restartPolicy ?? 'Always',
      terminationGracePeriodSeconds: 0,
      ...(o.volumes ? { volumes: o.volumes } : {}),
      containers: [
        {
          name: 'main',
          image: c.image,
          command: o.command,
          ...(o.volumeMounts ? { volumeMounts: o.volumeMounts } : {}),
        },
      ],
    },
  };
}

export async function createPod(c: Cluster, manifest: Record<string, unknown>): Promise<void> {
  const r = await c.k.post(`/api/v1/namespaces/${NAMESPACE}/pods`, manifest);
  if (r.status !== 201 && r.status !== 200)
    throw new Error(`create pod: ${r.status} ${JSON.stringify(r.body)}`);
  const uid = (r.body as PodLike).metadata?.uid;
  if (uid) c.podUids.add(uid);
}

/** Removes what is left of the pods' cgroups in every hierarchy; reports any it had to remove. */
function podCgroups(uids: Set<string>): void {
  let left = 0;
  for (const uid of uids) if (removeCgroup(`/berth/${uid}`)) left++;
  if (left) console.error(`cleanup: removed ${left} pod cgroup(s) the agent left under /berth`);
}

export interface ContainerStatusLike {
  containerID?: string;
  restartCount?: number;
  state?: {
    running?: { startedAt?: string };
    waiting?: { reason?: string; message?: string };
    terminated?: { exitCode?: number; reason?: string; message?: string };
  };
}

export interface PodLike {
  metadata: { name: string; uid: string };
  status?: { phase?: string; containerStatuses?: ContainerStatusLike[] };
}

export const firstStatus = (p: PodLike): ContainerStatusLike | undefined => p.status?.containerStatuses?.[0];
export const isRunning = (p: PodLike): boolean => !!firstStatus(p)?.state?.running;
export const containerId = (p: PodLike): string =>
  (firstStatus(p)?.containerID ?? '').replace(/^\w+:\/\//, '');

interface Waiter {
  pred: (p: PodLike) => boolean;
  resolve: (v: { at: number; pod: PodLike }) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One watch on the bench namespace's pods; every event is stamped when its line arrives.
 * waitFor(name, pred) resolves with the arrival time of the first event for which pred holds
 * (or at once, if the last one seen already does). Register before creating the pod.
 */
export class PodWatch {
  private readonly latest = new Map<string, PodLike>();
  private readonly gone = new Set<string>();
  private readonly waiters = new Map<string, Waiter[]>();
  private req?: http.ClientRequest;

  static async open(c: Cluster): Promise<PodWatch> {
    const w = new PodWatch();
    await new Promise<void>((resolve, reject) => {
      const u = new URL(c.cp.url);
      const req = http.get(
        {
          host: u.hostname,
          port: Number(u.port),
          path: `/api/v1/namespaces/${NAMESPACE}/pods?watch=true`,
          headers: { authorization: `Bearer ${c.cp.token}` },
        },
        (res) => {
          if (res.statusCode !== 200) {
            reject(new Error(`watch: HTTP ${res.statusCode}`));
            res.resume();
            return;
          }
          resolve();
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            const at = nowMs();
            buf += chunk;
            let i: number;
            while ((i = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, i).trim();
              buf = buf.slice(i + 1);
              if (line) w.onEvent(JSON.parse(line) as { type: string; object: PodLike }, at);
            }
          });
          res.on('close', () => w.failAll(new Error('the pod watch ended')));
        },
      );
      req.on('error', reject);
      w.req = req;
    });
    return w;
  }

  private onEvent(ev: { type: string; object: PodLike }, at: number): void {
    const name = ev.object?.metadata?.name;
    if (!name) return;
    if (ev.type === 'DELETED') {
      this.latest.delete(name);
      this.gone.add(name);
    } else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') {
      this.latest.set(name, ev.object);
      this.gone.delete(name);
    }
    const ws = this.waiters.get(name);
    if (!ws) return;
    for (const w of [...ws]) {
      if (w.pred(ev.object)) {
        clearTimeout(w.timer);
        ws.splice(ws.indexOf(w), 1);
        w.resolve({ at, pod: ev.object });
      }
    }
  }

  private failAll(e: Error): void {
    for (const ws of this.waiters.values())
      for (const w of ws) {
        clearTimeout(w.timer);
        w.reject(e);
      }
    this.waiters.clear();
  }

  get(name: string): PodLike | undefined {
    return this.latest.get(name);
  }

  isGone(name: string): boolean {
    return this.gone.has(name);
  }

  waitFor(
    name: string,
    what: string,
    pred: (p: PodLike) => boolean,
    timeoutMs = 60_000,
  ): Promise<{ at: number; pod: PodLike }> {
    const cur = this.latest.get(name);
    if (cur && pred(cur)) return Promise.resolve({ at: nowMs(), pod: cur });
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(name) ?? [];
      this.waiters.set(name, list);
      const w: Waiter = {
        pred,
        resolve,
        reject,
        timer: setTimeout(() => {
          list.splice(list.indexOf(w), 1);
          const last = this.latest.get(name);
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for pod ${name} ${what}; last status: ${JSON.stringify(last?.status ?? null)}`,
            ),
          );
        }, timeoutMs),
      };
      list.push(w);
    });
  }

  close(): void {
    this.failAll(new Error('closed'));
    this.req?.destroy();
  }
}

/** Deletes the pods and waits until the API no longer has them. */
export async function deletePods(c: Cluster, names: string[], timeoutMs = 60_000): Promise<void> {
  for (const n of names) await c.k.delete(`/api/v1/namespaces/${NAMESPACE}/pods/${n}`);
  const deadline = Date.now() + timeoutMs;
  for (const n of names) {
    while ((await c.k.get(`/api/v1/namespaces/${NAMESPACE}/pods/${n}`)).status !== 404) {
      if (Date.now() > deadline) throw new Error(`pod ${n} still there after ${timeoutMs} ms`);
      await sleep(100);
    }
  }
}

/** VmRSS and VmHWM (kB) of a process, from /proc/<pid>/status; Pss (kB) from smaps_rollup. */
export function memoryOf(pid: number): { rssKb: number; hwmKb: number; pssKb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (text: string, name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  let pssKb = NaN;
  try {
    pssKb = field(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
  } catch {
    /* older kernels */
  }
  return { rssKb: field(status, 'VmRSS'), hwmKb: field(status, 'VmHWM'), pssKb };
}
