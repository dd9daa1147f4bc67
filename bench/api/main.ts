/**
 * bench/api: throughput and latency of the Berth API on this machine, next to redis-benchmark on
 * the same Redis (the floor: no API server can beat the store under it).
 *   npm run bench -- api [--ops N] [--list N] [--watchers N]
 * Figures: creates/s, updates/s, gets/s with p50/p99 at 1, 16 and 64 concurrent clients; a list of
 * N pods; delivery latency of one change to W watchers. Ends with one JSON line.
 */
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { TestRedis, startControlPlane } from '@berth/testing';
import { printTable, round, summarize } from '../common/stats';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const OPS = arg('ops', 3000);
const LIST = arg('list', 10000);
const WATCHERS = arg('watchers', 100);

interface Target {
  host: string;
  port: number;
  token: string;
  agent: http.Agent;
}

function request(
  t: Target,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: t.host,
        port: t.port,
        method,
        path,
        agent: t.agent,
        headers: {
          authorization: `Bearer ${t.token}`,
          accept: 'application/json',
          ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

function pod(name: string): any {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'bench', labels: { app: 'bench', shard: String(name.length % 7) } },
    spec: {
      containers: [
        {
          name: 'main',
          image: '127.0.0.1:5000/bench/app:1.0',
          args: ['sleep', '3600'],
          resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
        },
      ],
    },
  };
}

/** Runs `total` operations with `conc` workers; returns ops/s and per-op latencies in ms. */
async function phase(conc: number, total: number, op: (i: number) => Promise<void>) {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        const s = performance.now();
        await op(i);
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const s = summarize(lat);
  return { perSec: round(total / secs, 0), p50: round(s.p50), p99: round(s.p99) };
}

function redisBenchmark(port: number, clients: number): { set: number; get: number } {
  const out = execFileSync(
    'redis-benchmark',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-c',
      String(clients),
      '-n',
      '50000',
      '-t',
      'set,get',
      '--csv',
      '-q',
    ],
    { encoding: 'utf8' },
  );
  const rate = (name: string) => {
    const line = out.split('\n').find((l) => l.startsWith(`"${name}"`));
    return line ? Number(line.split(',')[1].replace(/"/g, '')) : NaN;
  };
  return { set: rate('SET'), get: rate('GET') };
}

async function main() {
  const redis = await TestRedis.start();
  // The API alone: with controllers on, the scheduler binds the bench's pods between its create
  // and its update, and the update's resourceVersion precondition fails (409).
  const cp = await startControlPlane({ redisUrl: redis.url, extraArgs: ['--controllers', 'none'] });
  try {
    const u = new URL(cp.url);
    const t: Target = {
      host: u.hostname,
      port: Number(u.port),
      token: cp.token,
      agent: new http.Agent({ keepAlive: true, maxSockets: 256 }),
    };
    const ns = await request(t, 'POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'bench' },
    });
    if (ns.status >= 300) throw new Error(`cannot create namespace: ${JSON.stringify(ns.body)}`);

    const rows: Array<Record<string, string | number>> = [];
    const fig: Record<string, number> = {};
    let created = 0;
    for (const conc of [1, 16, 64]) {
      const n = conc === 1 ? Math.min(OPS, 1000) : OPS;
      const base = `p${conc}-`;
      const objs: any[] = new Array(n);
      const c = await phase(conc, n, async (i) => {
        const r = await request(t, 'POST', '/api/v1/namespaces/bench/pods', pod(`${base}${i}`));
        if (r.status !== 201 && r.status !== 200)
          throw new Error(`create ${r.status}: ${JSON.stringify(r.body)}`);
        objs[i] = r.body;
      });
      created += n;
      const u2 = await phase(conc, n, async (i) => {
        const o = objs[i];
        o.metadata.labels.rev = '2';
        const r = await request(t, 'PUT', `/api/v1/namespaces/bench/pods/${o.metadata.name}`, o);
        if (r.status !== 200) throw new Error(`update ${r.status}: ${JSON.stringify(r.body)}`);
      });
      const g = await phase(conc, n, async (i) => {
        const r = await request(t, 'GET', `/api/v1/namespaces/bench/pods/${base}${i}`);
        if (r.status !== 200) throw new Error(`get ${r.status}`);
      });
      for (const [op, f] of [
        ['create', c],
        ['update', u2],
        ['get', g],
      ] as const) {
        rows.push({ op, clients: conc, 'ops/s': f.perSec, 'p50 ms': f.p50, 'p99 ms': f.p99 });
        fig[`${op}_c${conc}_per_s`] = f.perSec;
        fig[`${op}_c${conc}_p99_ms`] = f.p99;
      }
    }
    console.log(
      `\nBerth API (${OPS} ops per phase, pods with validation, one control plane, Redis AOF fsync always)`,
    );
    printTable(rows);

    // Fill up to LIST pods, then time full lists.
    if (created < LIST) {
      await phase(64, LIST - created, async (i) => {
        const r = await request(t, 'POST', '/api/v1/namespaces/bench/pods', pod(`fill-${i}`));
        if (r.status >= 300) throw new Error(`create ${r.status}`);
      });
    }
    const listLat: number[] = [];
    let listed = 0;
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      const r = await request(t, 'GET', '/api/v1/namespaces/bench/pods');
      listLat.push(performance.now() - s);
      listed = r.body.items.length;
    }
    const ls = summarize(listLat);
    console.log(
      `\nlist of ${listed} pods: p50 ${round(ls.p50)} ms (5 runs, max ${round(Math.max(...listLat))} ms)`,
    );
    fig.list_pods = listed;
    fig.list_p50_ms = round(ls.p50);

    // Watch delivery: W watchers on configmaps; each change carries its send time.
    const delays: number[] = [];
    const reqs: http.ClientRequest[] = [];
    const watchAgent = new http.Agent({ keepAlive: false, maxSockets: WATCHERS + 8 });
    const rv = (await request(t, 'GET', '/api/v1/namespaces/bench/configmaps')).body.metadata.resourceVersion;
    await Promise.all(
      Array.from(
        { length: WATCHERS },
        () =>
          new Promise<void>((resolve, reject) => {
            const req = http.request(
              {
                host: t.host,
                port: t.port,
                agent: watchAgent,
                path: `/api/v1/namespaces/bench/configmaps?watch=true&resourceVersion=${rv}`,
                headers: { authorization: `Bearer ${t.token}` },
              },
              (res) => {
                resolve();
                let buf = '';
                res.on('data', (c: Buffer) => {
                  const now = Date.now() + (performance.timeOrigin % 1);
                  buf += c.toString();
                  let nl: number;
                  while ((nl = buf.indexOf('\n')) >= 0) {
                    const line = buf.slice(0, nl);
                    buf = buf.slice(nl + 1);
                    if (!line.trim()) continue;
                    const ev = JSON.parse(line);
                    const sent = Number(ev.object?.data?.sent);
                    if (sent) delays.push(now - sent);
                  }
                });
              },
            );
            req.on('error', reject);
            req.end();
            reqs.push(req);
          }),
      ),
    );
    const CHANGES = 100;
    for (let i = 0; i < CHANGES; i++) {
      await request(t, 'POST', '/api/v1/namespaces/bench/configmaps', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `w-${i}` },
        data: { sent: String(Date.now() + (performance.timeOrigin % 1)) },
      });
      await new Promise((r) => setTimeout(r, 10));
    }
    const deadline = Date.now() + 10_000;
    while (delays.length < CHANGES * WATCHERS && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    for (const r of reqs) r.destroy();
    const ws = summarize(delays);
    console.log(
      `watch delivery to ${WATCHERS} watchers, ${CHANGES} changes: ${delays.length}/${CHANGES * WATCHERS} events, p50 ${round(ws.p50)} ms, p99 ${round(ws.p99)} ms`,
    );
    fig.watch_delivered = delays.length;
    fig.watch_p50_ms = round(ws.p50);
    fig.watch_p99_ms = round(ws.p99);

    const rb1 = redisBenchmark(redis.port, 1);
    const rb64 = redisBenchmark(redis.port, 64);
    console.log(
      `\npeer (floor): redis-benchmark on the same Redis: SET ${rb1.set}/s GET ${rb1.get}/s at 1 client; SET ${rb64.set}/s GET ${rb64.get}/s at 64 clients`,
    );
    console.log(
      JSON.stringify({
        bench: 'api',
        ...fig,
        peer: 'redis-benchmark',
        peer_set_c1_per_s: rb1.set,
        peer_get_c1_per_s: rb1.get,
        peer_set_c64_per_s: rb64.set,
        peer_get_c64_per_s: rb64.get,
      }),
    );
  } finally {
    await cp.stop();
    await redis.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
