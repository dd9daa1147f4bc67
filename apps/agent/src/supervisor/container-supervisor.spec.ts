import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempDir } from '@berth/testing';
import type { ExitEvent, OciSpec } from '../runtime';
import type { MountDescription, Mounter, SnapshotInfo, Snapshotter } from '../snapshots';
import {
  ContainerSupervisor,
  type Clock,
  type ContainerRecord,
  type SupervisedContainer,
  type SupervisedRuntime,
} from './container-supervisor';

class FakeClock implements Clock {
  t = 1_800_000_000_000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private n = 0;
  now() {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = ++this.n;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown) {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  pending(): number[] {
    return this.timers.map((x) => x.at - this.t).sort((a, b) => a - b);
  }
  advance(ms: number) {
    this.t += ms;
    const due = this.timers.filter((x) => x.at <= this.t);
    this.timers = this.timers.filter((x) => x.at > this.t);
    for (const d of due) d.fn();
  }
}

class FakeRuntime implements SupervisedRuntime {
  calls: string[] = [];
  states = new Map<string, { status: string; pid: number }>();
  ignoreTerm = new Set<string>();
  failRun = false;
  pid = 100;
  constructor(private exits: FakeExits) {}
  async run(id: string) {
    this.calls.push(`run ${id}`);
    if (this.failRun) throw new Error('exec: no such file');
    const pid = ++this.pid;
    this.states.set(id, { status: 'running', pid });
    return { pid };
  }
  async state(id: string) {
    return this.states.get(id);
  }
  async kill(id: string, sig: string | number) {
    this.calls.push(`kill ${id} ${sig}`);
    const s = this.states.get(id);
    if (!s || s.status !== 'running') return;
    if (sig === 'SIGTERM' && this.ignoreTerm.has(id)) return;
    s.status = 'stopped';
    this.exits.exit(id, sig === 'SIGKILL' ? 137 : 143);
  }
  async delete(id: string) {
    this.calls.push(`delete ${id}`);
    this.states.delete(id);
  }
  /** The process ends by itself. */
  end(id: string, code: number) {
    const s = this.states.get(id);
    if (s) s.status = 'stopped';
    this.exits.exit(id, code);
  }
}

class FakeExits extends EventEmitter<{ exit: [ExitEvent] }> {
  backlog: ExitEvent[] = [];
  forgotten: string[] = [];
  clock?: FakeClock;
  async start() {
    for (const e of this.backlog.splice(0)) this.emit('exit', e);
  }
  forget(id: string) {
    this.forgotten.push(id);
  }
  exit(id: string, exitCode: number) {
    this.emit('exit', { id, exitCode, exitedAt: new Date(this.clock?.now() ?? Date.now()) });
  }
}

class FakeMounter implements Mounter {
  mounted = new Set<string>();
  async mount(_m: MountDescription, target: string) {
    this.mounted.add(target);
  }
  async unmount(target: string) {
    this.mounted.delete(target);
  }
  async isMounted(target: string) {
    return this.mounted.has(target);
  }
  async mountsUnder(dir: string) {
    return [...this.mounted].filter((m) => m.startsWith(dir));
  }
}

class FakeSnapshots implements Snapshotter {
  snaps = new Map<string, string[]>();
  prepared = 0;
  async prepare(key: string, parents: string[]) {
    this.prepared++;
    this.snaps.set(key, parents);
    return this.mounts(key);
  }
  async mounts(key: string): Promise<MountDescription> {
    return { type: 'overlay', source: 'overlay', options: [`lowerdir=${key}`], cwd: '/' };
  }
  async remove(key: string) {
    this.snaps.delete(key);
  }
  async list(): Promise<SnapshotInfo[]> {
    return [];
  }
  async info() {
    return undefined;
  }
}

function world(stateDir: string, clock = new FakeClock()) {
  const exits = new FakeExits();
  exits.clock = clock;
  const runtime = new FakeRuntime(exits);
  const mounter = new FakeMounter();
  const snapshots = new FakeSnapshots();
  const specs = new Map<string, OciSpec>();
  const bundles = {
    removed: [] as string[],
    prepare: async (id: string) => `/b/${id}`,
    rootfs: (id: string) => `/b/${id}/rootfs`,
    writeSpec: async (id: string, s: OciSpec) => void specs.set(id, s),
    remove: async (id: string) => void bundles.removed.push(id),
  };
  const cgroupsRemoved: string[] = [];
  const oom = new Set<string>();
  const cgroups = {
    remove: async (p: string) => void cgroupsRemoved.push(p),
    removePod: async (uid: string) => void cgroupsRemoved.push(`pod:${uid}`),
    oomKills: async (p: string) => (oom.has(p) && !cgroupsRemoved.includes(p) ? 1 : 0),
  };
  const sup = new ContainerSupervisor(
    { runtime, exits, snapshots, mounter, bundles, cgroups, clock },
    { stateDir, stopPollMs: 5 },
  );
  return { sup, clock, exits, runtime, mounter, snapshots, specs, bundles, cgroupsRemoved, oom };
}

const container = (
  id: string,
  restartPolicy: SupervisedContainer['restartPolicy'] = 'Always',
): SupervisedContainer => ({
  config: { id, name: 'app', podName: 'pod-a', podUID: 'uid-a', image: { cmd: ['/bin/sh'] } },
  layers: ['/layers/1', '/layers/2'],
  restartPolicy,
});

/** Waits until the supervisor reports `id` in a state matching `pred`. */
async function until(
  sup: ContainerSupervisor,
  id: string,
  pred: (r: ContainerRecord) => boolean,
): Promise<ContainerRecord> {
  for (;;) {
    const r = sup.get(id);
    if (r && pred(r)) return r;
    await once(sup, 'status');
  }
}

describe('ContainerSupervisor', () => {
  const tmp = tempDir('berth-sup-');
  after(() => tmp.remove());
  let n = 0;
  const dir = () => path.join(tmp.path, `s${++n}`);

  test('run prepares a snapshot, mounts it at the bundle rootfs, writes the spec and starts', async () => {
    const w = world(dir());
    await w.sup.start();
    const r = await w.sup.run(container('c1'));
    assert.equal(r.state, 'running');
    assert.equal(r.restartCount, 0);
    assert.ok(w.mounter.mounted.has('/b/c1/rootfs'));
    assert.deepEqual(w.snapshots.snaps.get('c1'), ['/layers/1', '/layers/2']);
    assert.equal(w.specs.get('c1')?.root.path, '/b/c1/rootfs');
    assert.equal(w.specs.get('c1')?.linux.cgroupsPath, '/berth/uid-a/c1');
    assert.ok(w.runtime.calls.includes('run c1'));
    await w.sup.idle();
    w.sup.close();
  });

  test('Always: first restart at once, then CrashLoopBackOff 1 s, 2 s; restartCount and lastState kept', async () => {
    const w = world(dir());
    await w.sup.start();
    await w.sup.run(container('c2'));
    w.runtime.end('c2', 3);
    let r = await until(w.sup, 'c2', (x) => x.state === 'waiting');
    assert.equal(r.reason, undefined);
    assert.deepEqual(w.clock.pending(), [0]);
    w.clock.advance(0);
    r = await until(w.sup, 'c2', (x) => x.state === 'running');
    assert.equal(r.restartCount, 1);
    assert.equal(r.lastState?.exitCode, 3);
    assert.equal(r.lastState?.reason, 'Error');
    assert.equal(w.snapshots.prepared, 2, 'a restarted container gets a fresh writable layer');

    w.runtime.end('c2', 4);
    r = await until(w.sup, 'c2', (x) => x.state === 'waiting');
    assert.equal(r.reason, 'CrashLoopBackOff');
    assert.deepEqual(w.clock.pending(), [1000]);
    w.clock.advance(999);
    assert.equal(w.sup.get('c2')?.state, 'waiting');
    w.clock.advance(1);
    r = await until(w.sup, 'c2', (x) => x.state === 'running');
    assert.equal(r.restartCount, 2);
    assert.equal(r.lastState?.exitCode, 4);

    w.runtime.end('c2', 4);
    await until(w.sup, 'c2', (x) => x.state === 'waiting');
    assert.deepEqual(w.clock.pending(), [2000]);
    await w.sup.idle();
    w.sup.close();
  });

  test('OnFailure with exit 0 stays terminated as Completed; Never with exit 1 as Error', async () => {
    const w = world(dir());
    await w.sup.start();
    await w.sup.run(container('c3', 'OnFailure'));
    w.runtime.end('c3', 0);
    const r = await until(w.sup, 'c3', (x) => x.state === 'terminated');
    assert.equal(r.reason, 'Completed');
    assert.equal(r.exitCode, 0);
    assert.deepEqual(w.clock.pending(), []);
    await w.sup.run(container('c4', 'Never'));
    w.runtime.end('c4', 1);
    const r4 = await until(w.sup, 'c4', (x) => x.state === 'terminated');
    assert.equal(r4.reason, 'Error');
    assert.equal(r4.restartCount, 0);
    await w.sup.idle();
    w.sup.close();
  });

  test('state survives a supervisor restart: pending backoff is re-armed and exits seen meanwhile are handled', async () => {
    const d = dir();
    const w = world(d);
    await w.sup.start();
    await w.sup.run(container('p1'));
    await w.sup.run(container('p2', 'Never'));
    w.runtime.end('p1', 9);
    await until(w.sup, 'p1', (x) => x.state === 'waiting');
    w.clock.advance(0);
    await until(w.sup, 'p1', (x) => x.state === 'running');
    w.runtime.end('p1', 9);
    await until(w.sup, 'p1', (x) => x.reason === 'CrashLoopBackOff');
    await w.sup.idle();
    w.sup.close();

    const saved = JSON.parse(await fs.readFile(path.join(d, 'supervisor.json'), 'utf8')) as ContainerRecord[];
    assert.equal(saved.find((r) => r.id === 'p1')?.restartCount, 1);

    // a new agent: p2 exited while nobody watched
    const w2 = world(d, w.clock);
    w2.runtime.states.set('p2', { status: 'stopped', pid: 0 });
    w2.exits.backlog.push({ id: 'p2', exitCode: 5, exitedAt: new Date(w.clock.now()) });
    await w2.sup.start();
    const p2 = await until(w2.sup, 'p2', (x) => x.state === 'terminated');
    assert.equal(p2.exitCode, 5);
    assert.deepEqual(w2.clock.pending(), [1000]);
    w2.clock.advance(1000);
    const p1 = await until(w2.sup, 'p1', (x) => x.state === 'running');
    assert.equal(p1.restartCount, 2);
    await w2.sup.idle();
    w2.sup.close();
  });

  test('a running container the runtime no longer knows is settled as exited (Unknown)', async () => {
    const d = dir();
    const w = world(d);
    await w.sup.start();
    await w.sup.run(container('u1', 'Never'));
    await w.sup.idle();
    w.sup.close();
    const w2 = world(d, w.clock);
    await w2.sup.start();
    const r = await until(w2.sup, 'u1', (x) => x.state === 'terminated');
    assert.equal(r.reason, 'Unknown');
    await w2.sup.idle();
    w2.sup.close();
  });

  test('stop: SIGTERM honoured, nothing left behind', async () => {
    const w = world(dir());
    await w.sup.start();
    await w.sup.run(container('s1'));
    await w.sup.stop('s1', 30);
    assert.ok(w.runtime.calls.includes('kill s1 SIGTERM'));
    assert.ok(!w.runtime.calls.includes('kill s1 SIGKILL'));
    assert.equal(w.sup.get('s1'), undefined);
    assert.ok(!w.mounter.mounted.has('/b/s1/rootfs'));
    assert.ok(!w.snapshots.snaps.has('s1'));
    assert.ok(w.cgroupsRemoved.includes('/berth/uid-a/s1'));
    assert.ok(w.bundles.removed.includes('s1'));
    assert.ok(w.cgroupsRemoved.includes('pod:uid-a'), "the pod's last container sweeps the pod cgroup");
    assert.deepEqual(w.clock.pending(), [], 'no restart after a stop');
    await w.sup.idle();
    w.sup.close();
  });

  test('stop: SIGKILL after the grace period when TERM is ignored', async () => {
    const w = world(dir());
    await w.sup.start();
    await w.sup.run(container('s2'));
    w.runtime.ignoreTerm.add('s2');
    const stopped = w.sup.stop('s2', 5);
    while (!w.clock.pending().includes(5000)) await new Promise((r) => setImmediate(r));
    assert.ok(!w.runtime.calls.includes('kill s2 SIGKILL'));
    w.clock.advance(5000);
    await stopped;
    assert.ok(w.runtime.calls.includes('kill s2 SIGKILL'));
    assert.equal(w.sup.get('s2'), undefined);
    await w.sup.idle();
    w.sup.close();
  });

  test('an exit after an OOM kill in its cgroup is OOMKilled', async () => {
    const w = world(dir());
    await w.sup.start();
    await w.sup.run(container('o1', 'Never'));
    w.oom.add('/berth/uid-a/o1');
    w.runtime.end('o1', 137);
    const r = await until(w.sup, 'o1', (x) => x.state === 'terminated');
    assert.equal(r.reason, 'OOMKilled');
    assert.equal(r.exitCode, 137);
    await w.sup.idle();
    w.sup.close();
  });

  test('a start failure is reported as StartError and retried with backoff', async () => {
    const w = world(dir());
    await w.sup.start();
    w.runtime.failRun = true;
    await w.sup.run(container('f1'));
    const r = await until(w.sup, 'f1', (x) => x.state === 'waiting');
    assert.equal(r.lastState?.reason, 'StartError');
    assert.match(r.message ?? '', /no such file/);
    w.runtime.failRun = false;
    w.clock.advance(0);
    await until(w.sup, 'f1', (x) => x.state === 'running');
    await w.sup.idle();
    w.sup.close();
  });

  test('killRun kills only the current run and lets the restart policy restart it (a failed liveness probe)', async () => {
    const w = world(dir());
    await w.sup.start();
    const first = await w.sup.run(container('k1'));
    assert.equal(await w.sup.killRun('k1', '1999-01-01T00:00:00.000Z', 1), false, 'another run: left alone');
    assert.equal(w.runtime.calls.filter((c) => c.startsWith('kill')).length, 0);
    assert.equal(await w.sup.killRun('k1', first.startedAt!, 1), true);
    assert.ok(w.runtime.calls.includes('kill k1 SIGTERM'));
    const r = await until(w.sup, 'k1', (x) => x.state === 'waiting');
    assert.equal(r.lastState?.exitCode, 143);
    w.clock.advance(0);
    const again = await until(w.sup, 'k1', (x) => x.state === 'running');
    assert.equal(again.restartCount, 1);
    await w.sup.idle();
    w.sup.close();
  });
});
