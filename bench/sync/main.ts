/**
 * bench/sync: how fast `berthctl sync` (issue 5, GitOps) follows a directory, next to
 * `berthctl apply` doing the same work by hand, measured in the same run against the same server.
 *   npm run bench -- sync [--edits N] [--namespaces N]
 *
 * One control plane (embedded Redis, --controllers none: only the API matters, no containers run)
 * on a free loopback port, a temp dir for everything; all stopped and removed at the end. The
 * server is warmed with an apply of 100 other manifests before anything is timed.
 *
 * 1. First sync: a tree of 1,000 manifests (10 Namespaces, each with 50 ConfigMaps and 49
 *    Deployments, one object per file, nested directories), `berthctl sync DIR --prune` as a
 *    process: start → exit 0 on a cluster without them; then the same command again (no change).
 *    Peer: `berthctl apply -R -f` of the same tree under other namespace names, then again; and
 *    kubectl 1.32 `apply --server-side -R` (through a loopback proxy that adds the token, as
 *    client-go sends none over plain HTTP) when it works against Berth, else it says why.
 * 2. Save → live: `berthctl sync DIR --watch --prune` running over 50 manifests (2 Namespaces,
 *    24 ConfigMaps, 24 Deployments); N edits one at a time (a ConfigMap value or a Deployment
 *    image), each timed from just before the file write to the arrival of the watch event (in this
 *    process, listAndWatch) carrying the new value; the next edit waits for it plus 200 ms.
 *    Peer: the same edits on a twin directory, each followed by `berthctl apply -f FILE` (process
 *    start included), timed the same way.
 * 3. Where the time goes: the pass time the sync itself reports, a process that does nothing
 *    (`berthctl version --client`), reading and parsing the 1,000 files in process (cold, warm,
 *    re-scan), and a first-sync pass run in process (its requests counted and timed per method),
 *    with the default 8 requests in flight and with 32.
 * Ends with one JSON line.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kindFor, type KubeObject } from '@berth/api';
import { BerthClient, listAndWatch } from '@berth/client';
import { SourceReader, Syncer } from '@berth/sync';
import type { RequestOptions } from '@berth/client';
import {
  Managed,
  haveKubectl,
  kubectl,
  startAuthProxy,
  startControlPlane,
  tempDir,
  type AuthProxy,
  type ControlPlane,
} from '@berth/testing';
import { printTable, round, summarize } from '../common/stats';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const EDITS = arg('edits', 50);
const NAMESPACES = arg('namespaces', 10);
const CM_PER_NS = 50;
const DEP_PER_NS = 49;
const GAP_MS = 200;
const KUBECTL_MINOR = 32;
const EDIT_LABEL = 'bench.berth.dev/edit';
const ROOT = path.resolve(__dirname, '..', '..', '..');
const BERTHCTL = path.join(ROOT, 'bin', 'berthctl');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Manifests: one object per file, as YAML a person would write.

interface ManifestFile {
  file: string;
  kind: 'ConfigMap' | 'Deployment' | 'Namespace';
  namespace: string;
  name: string;
  /** The manifest's text with value `rev` (a ConfigMap's data.rev, a Deployment's image tag). */
  text(rev: number): string;
  /** The value the live object shows for `rev`. */
  value(rev: number): string;
}

function namespaceYaml(ns: string): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n  labels:\n    team: bench\n`;
}

function configMapYaml(ns: string, name: string, rev: number, edit: boolean): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
  namespace: ${ns}
  labels:
    app: ${name}
${edit ? `    ${EDIT_LABEL}: "true"\n` : ''}data:
  rev: "${rev}"
  LOG_LEVEL: info
  settings.yaml: |
    listen: 0.0.0.0:8080
    upstreams:
      - http://backend-a.${ns}.svc:8080
      - http://backend-b.${ns}.svc:8080
    timeouts:
      read: 5s
      write: 10s
`;
}

const image = (rev: number) => `127.0.0.1:5000/bench/web:1.0.${rev}`;

function deploymentYaml(ns: string, name: string, rev: number, edit: boolean): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${ns}
  labels:
    app: ${name}
${edit ? `    ${EDIT_LABEL}: "true"\n` : ''}spec:
  replicas: 2
  selector:
    matchLabels:
      app: ${name}
  template:
    metadata:
      labels:
        app: ${name}
    spec:
      containers:
        - name: web
          image: ${image(rev)}
          args: ["sleep", "3600"]
          env:
            - name: MODE
              value: production
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
            limits:
              memory: 64Mi
`;
}

/** Writes a tree ROOT/NS/00-namespace.yaml, NS/configmaps/*.yaml, NS/deployments/*.yaml. */
function writeTree(
  root: string,
  prefix: string,
  namespaces: number,
  cms: number,
  deps: number,
  edit = false,
): ManifestFile[] {
  const out: ManifestFile[] = [];
  for (let n = 0; n < namespaces; n++) {
    const ns = `${prefix}-${String(n).padStart(2, '0')}`;
    mkdirSync(path.join(root, ns, 'configmaps'), { recursive: true });
    mkdirSync(path.join(root, ns, 'deployments'), { recursive: true });
    out.push({
      file: path.join(root, ns, '00-namespace.yaml'),
      kind: 'Namespace',
      namespace: '',
      name: ns,
      text: () => namespaceYaml(ns),
      value: () => '',
    });
    for (let i = 0; i < cms; i++) {
      const name = `settings-${String(i).padStart(3, '0')}`;
      out.push({
        file: path.join(root, ns, 'configmaps', `${name}.yaml`),
        kind: 'ConfigMap',
        namespace: ns,
        name,
        text: (rev) => configMapYaml(ns, name, rev, edit),
        value: (rev) => String(rev),
      });
    }
    for (let i = 0; i < deps; i++) {
      const name = `web-${String(i).padStart(3, '0')}`;
      out.push({
        file: path.join(root, ns, 'deployments', `${name}.yaml`),
        kind: 'Deployment',
        namespace: ns,
        name,
        text: (rev) => deploymentYaml(ns, name, rev, edit),
        value: (rev) => image(rev),
      });
    }
  }
  for (const m of out) writeFileSync(m.file, m.text(0));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Processes.

interface Run {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs berthctl (or any binary) to its exit; ms is spawn → exit. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', (e) =>
      resolve({ ms: performance.now() - t0, code: null, stdout, stderr: e.message }),
    );
    child.once('close', (code) => resolve({ ms: performance.now() - t0, code, stdout, stderr }));
  });
}

function mustSucceed(what: string, r: Run): Run {
  if (r.code !== 0)
    throw new Error(`${what}: exit ${r.code}\n${r.stderr.slice(-2000)}\n${r.stdout.slice(-1000)}`);
  return r;
}

/** The `(N ms)` a sync pass reports in its summary line(s). */
function passTimes(output: string): number[] {
  return [...output.matchAll(/^(?:synced|would sync) .*\((\d+) ms\)$/gm)].map((m) => Number(m[1]));
}

// ---------------------------------------------------------------------------------------------
// What the API shows: the edited objects' values as watch events bring them.

class LiveView {
  private readonly values = new Map<string, string>();
  private readonly waiters = new Map<string, { value: string; resolve: (t: number) => void }>();
  private readonly abort = new AbortController();
  private readonly synced: Promise<void>[] = [];

  constructor(client: BerthClient) {
    for (const [apiVersion, kind] of [
      ['v1', 'ConfigMap'],
      ['apps/v1', 'Deployment'],
    ] as const) {
      const k = kindFor(apiVersion, kind)!;
      let done!: () => void;
      this.synced.push(new Promise<void>((r) => (done = r)));
      void (async () => {
        for await (const ev of listAndWatch(
          client,
          k,
          { labelSelector: `${EDIT_LABEL}=true` },
          this.abort.signal,
        )) {
          const at = performance.now();
          if (ev.type === 'SYNC') {
            for (const o of ev.items) this.see(kind, o, at);
            done();
          } else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') this.see(kind, ev.object, at);
        }
      })().catch((e: unknown) => {
        if (!this.abort.signal.aborted)
          console.error(`bench: watch of ${kind} failed: ${(e as Error).message}`);
      });
    }
  }

  ready(): Promise<void> {
    return Promise.all(this.synced).then(() => undefined);
  }

  private see(kind: string, o: KubeObject, at: number): void {
    const key = `${kind}/${o.metadata.namespace}/${o.metadata.name}`;
    const value =
      kind === 'ConfigMap'
        ? String((o as { data?: Record<string, string> }).data?.rev ?? '')
        : String(
            (o as { spec?: { template?: { spec?: { containers?: Array<{ image?: string }> } } } }).spec
              ?.template?.spec?.containers?.[0]?.image ?? '',
          );
    this.values.set(key, value);
    const w = this.waiters.get(key);
    if (w && w.value === value) {
      this.waiters.delete(key);
      w.resolve(at);
    }
  }

  /** performance.now() of the event that brought `value` (now, if it is already live). */
  waitFor(m: ManifestFile, value: string, timeoutMs = 30_000): Promise<number> {
    const key = `${m.kind}/${m.namespace}/${m.name}`;
    if (this.values.get(key) === value) return Promise.resolve(performance.now());
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters.delete(key);
        reject(
          new Error(`${key} did not show ${value} within ${timeoutMs} ms (live: ${this.values.get(key)})`),
        );
      }, timeoutMs);
      this.waiters.set(key, {
        value,
        resolve: (at) => {
          clearTimeout(t);
          resolve(at);
        },
      });
    });
  }

  close(): void {
    this.abort.abort();
  }
}

// ---------------------------------------------------------------------------------------------
// In-process breakdown: every request a pass makes, counted and timed.

class CountingClient extends BerthClient {
  readonly byMethod = new Map<string, { n: number; ms: number }>();

  override async requestJson<T>(opts: RequestOptions): Promise<T> {
    const t0 = performance.now();
    try {
      return await super.requestJson<T>(opts);
    } finally {
      const s = this.byMethod.get(opts.method) ?? { n: 0, ms: 0 };
      s.n++;
      s.ms += performance.now() - t0;
      this.byMethod.set(opts.method, s);
    }
  }
}

// ---------------------------------------------------------------------------------------------

type Figures = { p50: number | null; p99: number | null; max: number | null; n: number };
const fig = (xs: number[]): Figures => {
  if (!xs.length) return { p50: null, p99: null, max: null, n: 0 };
  const s = summarize(xs);
  return { p50: round(s.p50, 1), p99: round(s.p99, 1), max: round(Math.max(...xs), 1), n: s.n };
};
const ms = (x: number | null | undefined) => (x === null || x === undefined ? '-' : round(x, 0));

/** N edits, one at a time: write the file (rev i), run `after` (the peer's apply), wait for live. */
async function edits(
  live: LiveView,
  files: ManifestFile[],
  revBase: number,
  after?: (m: ManifestFile) => Promise<void>,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < EDITS; i++) {
    const m = files[i % files.length];
    const rev = revBase + i + 1;
    const landed = live.waitFor(m, m.value(rev));
    const t0 = performance.now();
    writeFileSync(m.file, m.text(rev));
    if (after) await after(m);
    out.push((await landed) - t0);
    await sleep(GAP_MS);
  }
  return out;
}

async function main(): Promise<void> {
  const tmp = tempDir('berth-bench-sync-');
  let cp: ControlPlane | undefined;
  let proxy: AuthProxy | undefined;
  let watcher: Managed | undefined;
  let live: LiveView | undefined;
  let exitCode = 0;
  try {
    const total = NAMESPACES * (1 + CM_PER_NS + DEP_PER_NS);
    console.log(
      `bench sync: load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}, ${os.cpus().length} CPUs; ${total} manifests, ${EDITS} edits`,
    );
    cp = await startControlPlane({ extraArgs: ['--controllers', 'none'] });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      BERTH_SERVER: cp.url,
      BERTH_TOKEN: cp.token,
      BERTH_CONFIG: path.join(tmp.path, 'no-config'),
    };
    const client = new BerthClient({ server: cp.url, token: cp.token });
    live = new LiveView(client);
    await live.ready();

    // Process start-up alone: what every one-shot command pays before its first request.
    const startup: number[] = [];
    for (let i = 0; i < 5; i++)
      startup.push(mustSucceed('berthctl version', await run(BERTHCTL, ['version', '--client'], env)).ms);

    // Warm the server (its create and apply paths) so the first timed tool does not pay for that.
    const warmDir = path.join(tmp.path, 'warm');
    writeTree(warmDir, 'warm', 1, 50, 49);
    mustSucceed('berthctl apply -R (warm-up)', await run(BERTHCTL, ['apply', '-R', '-f', warmDir], env));

    // -- 1. first sync of 1,000 manifests, and a second pass without changes -------------------
    const big = path.join(tmp.path, 'big');
    writeTree(big, 'sync', NAMESPACES, CM_PER_NS, DEP_PER_NS);
    const first = mustSucceed(
      'berthctl sync (first)',
      await run(BERTHCTL, ['sync', big, '--prune', '--name', 'big'], env),
    );
    const firstSummary = first.stdout.trim().split('\n').pop() ?? '';
    const resync = mustSucceed(
      'berthctl sync (again)',
      await run(BERTHCTL, ['sync', big, '--prune', '--name', 'big'], env),
    );
    const resyncSummary = resync.stdout.trim().split('\n').pop() ?? '';
    const cmKind = kindFor('v1', 'ConfigMap')!;
    const depKind = kindFor('apps/v1', 'Deployment')!;
    const synced =
      (await client.listAll(cmKind, { labelSelector: 'sync.berth.dev/name=big' })).items.length +
      (await client.listAll(depKind, { labelSelector: 'sync.berth.dev/name=big' })).items.length;

    // Peer: berthctl apply -R of the same tree (other namespace names), then again.
    const bigApply = path.join(tmp.path, 'big-apply');
    writeTree(bigApply, 'apply', NAMESPACES, CM_PER_NS, DEP_PER_NS);
    const applyFirst = mustSucceed(
      'berthctl apply -R (first)',
      await run(BERTHCTL, ['apply', '-R', '-f', bigApply], env),
    );
    const applyAgain = mustSucceed(
      'berthctl apply -R (again)',
      await run(BERTHCTL, ['apply', '-R', '-f', bigApply], env),
    );

    // Peer: kubectl apply --server-side, if it works against Berth today.
    let kubectlFirst: number | null = null;
    let kubectlAgain: number | null = null;
    let kubectlNote = '';
    if (!haveKubectl(KUBECTL_MINOR)) kubectlNote = `kubectl 1.${KUBECTL_MINOR} is not installed`;
    else {
      proxy = await startAuthProxy(cp.url, cp.token);
      const cacheDir = path.join(tmp.path, 'kube-cache');
      mkdirSync(cacheDir);
      const target = { url: proxy.url, token: cp.token, cacheDir };
      const bigKubectl = path.join(tmp.path, 'big-kubectl');
      writeTree(bigKubectl, 'kubectl', NAMESPACES, CM_PER_NS, DEP_PER_NS);
      // Warm kubectl's discovery cache first: berthctl has no discovery to do.
      const warm = await kubectl(KUBECTL_MINOR, target, ['get', 'namespaces']);
      const args = ['apply', '--server-side', '--field-manager=bench', '-R', '-f', bigKubectl];
      const t0 = performance.now();
      const k1 = warm.code === 0 ? await kubectl(KUBECTL_MINOR, target, args, { timeoutMs: 300_000 }) : warm;
      const t1 = performance.now();
      if (k1.code !== 0) {
        const why = (k1.stderr || k1.stdout).trim().split('\n').slice(0, 3).join(' | ');
        kubectlNote = `kubectl 1.${KUBECTL_MINOR} ${warm.code === 0 ? 'apply --server-side' : 'get namespaces'} failed against Berth (exit ${k1.code}): ${why.slice(0, 300)}; skipped`;
      } else {
        kubectlFirst = t1 - t0;
        const t2 = performance.now();
        const k2 = await kubectl(KUBECTL_MINOR, target, args, { timeoutMs: 300_000 });
        if (k2.code === 0) kubectlAgain = performance.now() - t2;
        else kubectlNote = `second kubectl apply failed (exit ${k2.code}): ${k2.stderr.slice(0, 200)}`;
      }
    }

    // -- 2. save → live -------------------------------------------------------------------------
    const small = path.join(tmp.path, 'edit');
    const smallFiles = writeTree(small, 'edit', 2, 24, 24, true);
    const editable = smallFiles.filter((m) => m.kind !== 'Namespace');
    watcher = new Managed(
      'berthctl sync --watch',
      BERTHCTL,
      ['sync', small, '--watch', '--prune', '--name', 'edit'],
      { env },
    );
    await watcher.waitForOutput(/^synced .*\(\d+ ms\)$/m, 60_000);
    for (const m of editable) await live.waitFor(m, m.value(0));
    const initialOutput = watcher.output.length;
    await sleep(500);
    const saveToLive = await edits(live, editable, 0);
    const editPasses = passTimes(watcher.output.slice(initialOutput));
    await watcher.stop(10_000);
    const watchOutput = watcher.output;
    watcher = undefined;

    // Peer: the same edits by hand, berthctl apply -f FILE after each save.
    const peerDir = path.join(tmp.path, 'edit-apply');
    const peerFiles = writeTree(peerDir, 'byhand', 2, 24, 24, true).filter((m) => m.kind !== 'Namespace');
    mustSucceed('berthctl apply -R (edit set)', await run(BERTHCTL, ['apply', '-R', '-f', peerDir], env));
    for (const m of peerFiles) await live.waitFor(m, m.value(0));
    const peerEdit = await edits(live, peerFiles, 0, async (m) => {
      mustSucceed(`berthctl apply -f ${m.file}`, await run(BERTHCTL, ['apply', '-f', m.file], env));
    });

    // -- 3. where the time goes (in process) -----------------------------------------------------
    // Reading: cold (first YAML parse and validation in this process), then warm (a fresh reader,
    // so every file is read and parsed again), then a re-scan (nothing changed: stat only).
    const timeRead = async (reader: SourceReader) => {
      const t0 = performance.now();
      const s = await reader.read();
      return { ms: performance.now() - t0, files: s.files.length };
    };
    const readCold = await timeRead(new SourceReader(big, { namespace: 'default', recursive: true }));
    const warmReader = new SourceReader(big, { namespace: 'default', recursive: true });
    const readWarm = await timeRead(warmReader);
    const rescan = await timeRead(warmReader);
    // One first pass of the same tree (fresh namespaces) in process, requests counted and timed;
    // and one with more requests in flight, to see whether the server has room for them.
    const inprocess = async (name: string, concurrency: number) => {
      const dir = path.join(tmp.path, name);
      writeTree(dir, name, NAMESPACES, CM_PER_NS, DEP_PER_NS);
      const counting = new CountingClient({ server: cp!.url, token: cp!.token });
      const syncer = new Syncer({ client: counting, dir, name, prune: true, concurrency });
      const t0 = performance.now();
      const r = await syncer.pass();
      return { wall: performance.now() - t0, pass: r.durationMs, created: r.status.created, counting };
    };
    // Alternated (8, 32, 8) so neither is always the one that runs on a warmer server.
    const inproc = await inprocess('inproc', 8);
    const inproc32 = await inprocess('inproc32', 32);
    const inproc8b = await inprocess('inproc8b', 8);
    const reqRows = [...inproc.counting.byMethod.entries()].map(([method, s]) => ({
      method,
      requests: s.n,
      'sum ms': round(s.ms, 0),
      'mean ms': round(s.ms / s.n, 2),
    }));

    // -- report ----------------------------------------------------------------------------------
    const sl = fig(saveToLive);
    const pe = fig(peerEdit);
    const pp = fig(editPasses);
    const st = fig(startup);
    const firstPass = passTimes(first.stdout)[0];
    const resyncPass = passTimes(resync.stdout)[0];
    console.log(
      `\nfirst sync of ${total} manifests (one object per file, nested directories), one-shot processes`,
    );
    console.log(`  sync: ${firstSummary}`);
    console.log(`  sync again: ${resyncSummary}`);
    console.log(
      `  live ConfigMaps + Deployments labelled by the sync: ${synced} (of ${NAMESPACES * (CM_PER_NS + DEP_PER_NS)})`,
    );
    printTable([
      {
        tool: 'berthctl sync DIR --prune',
        'first ms': ms(first.ms),
        'again (no change) ms': ms(resync.ms),
        'pass ms (first/again)': `${ms(firstPass)} / ${ms(resyncPass)}`,
        note: 'aim: first < 10000 ms',
      },
      {
        tool: 'peer: berthctl apply -R -f DIR',
        'first ms': ms(applyFirst.ms),
        'again (no change) ms': ms(applyAgain.ms),
        'pass ms (first/again)': '-',
        note: 'one object at a time',
      },
      {
        tool: `peer: kubectl 1.${KUBECTL_MINOR} apply --server-side -R`,
        'first ms': ms(kubectlFirst),
        'again (no change) ms': ms(kubectlAgain),
        'pass ms (first/again)': '-',
        note: kubectlNote ? 'skipped (see below)' : 'via a loopback token proxy, discovery cached',
      },
    ]);
    if (kubectlNote) console.log(`  ${kubectlNote}`);

    console.log(
      `\nsave → live: ${EDITS} edits (ConfigMap value / Deployment image, alternating files), write → watch event with the new value`,
    );
    printTable([
      {
        path: 'berthctl sync --watch --prune',
        n: sl.n,
        'p50 ms': ms(sl.p50),
        'p99 ms': ms(sl.p99),
        'max ms': ms(sl.max),
        note: 'aim: p50 < 300 ms',
      },
      {
        path: 'peer: save, then berthctl apply -f FILE',
        n: pe.n,
        'p50 ms': ms(pe.p50),
        'p99 ms': ms(pe.p99),
        'max ms': ms(pe.max),
        note: 'process start included',
      },
    ]);

    console.log('\nwhere the time goes');
    printTable([
      {
        what: 'berthctl process doing nothing (version --client), 5 runs',
        'p50 ms': ms(st.p50),
        'max ms': ms(st.max),
      },
      {
        what: `watch mode: pass time per edit as the sync reports it (${pp.n} passes)`,
        'p50 ms': ms(pp.p50),
        'max ms': ms(pp.max),
      },
      { what: 'watch mode: debounce after the last file event (default)', 'p50 ms': 100, 'max ms': 100 },
      {
        what: `read + parse + validate ${readCold.files} files (SourceReader, cold, in process)`,
        'p50 ms': ms(readCold.ms),
        'max ms': '-',
      },
      {
        what: `the same with a fresh reader, warm (JIT done)`,
        'p50 ms': ms(readWarm.ms),
        'max ms': '-',
      },
      {
        what: `re-scan of ${rescan.files} unchanged files (stat only)`,
        'p50 ms': ms(rescan.ms),
        'max ms': '-',
      },
      {
        what: `in-process first pass of ${total}, 8 in flight (Syncer.pass; ${inproc.created} created), twice`,
        'p50 ms': `${ms(inproc.wall)} / ${ms(inproc8b.wall)}`,
        'max ms': '-',
      },
      {
        what: `in-process first pass of ${total}, 32 in flight (${inproc32.created} created)`,
        'p50 ms': ms(inproc32.wall),
        'max ms': '-',
      },
    ]);
    console.log('  requests of the in-process pass with 8 in flight (one GET before each apply PATCH):');
    printTable(reqRows);
    if (!editPasses.length) console.log(`  (no pass lines in the watch output: ${watchOutput.slice(-400)})`);

    console.log(
      JSON.stringify({
        bench: 'sync',
        manifests: total,
        edits: sl.n,
        save_to_live_p50_ms: sl.p50,
        save_to_live_p99_ms: sl.p99,
        save_to_live_max_ms: sl.max,
        first_sync_1000_ms: round(first.ms, 0),
        resync_1000_ms: round(resync.ms, 0),
        first_sync_pass_ms: firstPass ?? null,
        resync_pass_ms: resyncPass ?? null,
        watch_pass_p50_ms: pp.p50,
        process_startup_ms: st.p50,
        read_parse_1000_cold_ms: round(readCold.ms, 0),
        read_parse_1000_warm_ms: round(readWarm.ms, 0),
        inprocess_pass_c8_ms: round(Math.min(inproc.wall, inproc8b.wall), 0),
        inprocess_pass_c32_ms: round(inproc32.wall, 0),
        aim_save_to_live_p50_ms: 300,
        aim_first_sync_1000_ms: 10_000,
        peer: 'berthctl apply',
        peer_apply_1000_ms: round(applyFirst.ms, 0),
        peer_reapply_1000_ms: round(applyAgain.ms, 0),
        peer_edit_p50_ms: pe.p50,
        peer_edit_p99_ms: pe.p99,
        kubectl_ssa_1000_ms: kubectlFirst === null ? null : round(kubectlFirst, 0),
        kubectl_ssa_again_1000_ms: kubectlAgain === null ? null : round(kubectlAgain, 0),
        ...(kubectlNote ? { kubectl_note: kubectlNote } : {}),
      }),
    );
  } catch (e) {
    console.error(e);
    exitCode = 1;
  } finally {
    live?.close();
    if (watcher) await watcher.stop(5000).catch(() => undefined);
    if (proxy) await proxy.stop().catch(() => undefined);
    if (cp) await cp.stop().catch((e: unknown) => console.error(`bench: stopping the control plane: ${e}`));
    tmp.remove();
  }
  process.exit(exitCode);
}

void main();
