// End-to-end: real runc under real conmon, real overlayfs, real cgroups (needs root).
// Rootfs layers are made from busybox-static; everything is cleaned up by id in after().
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '@berth/testing';
import {
  buildSpec,
  BundleStore,
  CgroupCleaner,
  cgroupPathFor,
  ExitWatcher,
  LogReader,
  RuncRuntime,
  isLive,
  type ContainerConfig,
  type ExitEvent,
  type LogEntry,
} from '../apps/agent/src/runtime';
import { LinuxMounter, OverlaySnapshotter, parseMountinfo } from '../apps/agent/src/snapshots';
import { ContainerSupervisor, type ContainerRecord } from '../apps/agent/src/supervisor';

const RUN = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const POD_UID = `e2e-${RUN}`;
const MONITOR_CGROUP = `/berth-e2e-monitors-${RUN}`;
const APPLETS = [
  'sh',
  'ps',
  'hostname',
  'ip',
  'cat',
  'sleep',
  'ls',
  'id',
  'echo',
  'wc',
  'grep',
  'true',
  'touch',
  'kill',
  'tail',
];

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}

const alive = isLive;

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>(
        (_, rej) => (t = setTimeout(() => rej(new Error(`timed out waiting for ${what}`)), ms)),
      ),
    ]);
  } finally {
    clearTimeout(t);
  }
}

const isRoot = process.getuid?.() === 0 && existsSync('/usr/sbin/runc') && existsSync('/usr/bin/conmon');

describe(
  'runtime e2e (runc + conmon + overlayfs + cgroups)',
  { skip: !isRoot && 'needs root, runc and conmon' },
  () => {
    const tmp = tempDir('berth-rt-');
    const state = path.join(tmp.path, 'state');
    const layer1 = path.join(tmp.path, 'layers', 'l1');
    const layer2 = path.join(tmp.path, 'layers', 'l2');
    const ids = new Set<string>();
    const snapshots = new OverlaySnapshotter(path.join(state, 'snapshots'));
    const mounter = new LinuxMounter();
    const bundles = new BundleStore(path.join(state, 'containers'));
    const cgroups = new CgroupCleaner();
    const runtime = new RuncRuntime({ stateDir: state });
    // a very slow poll: exits must come from fs.watch
    const exits = new ExitWatcher(runtime.exitDir, { pollMs: 3_600_000 });
    const logs = new LogReader();
    let n = 0;
    const newId = (tag: string) => {
      const id = `e2e-${RUN}-${tag}-${++n}`;
      ids.add(id);
      return id;
    };

    before(async () => {
      for (const l of [layer1, layer2]) await fs.mkdir(l, { recursive: true });
      await fs.mkdir(path.join(layer1, 'bin'));
      await fs.mkdir(path.join(layer1, 'etc'));
      await fs.copyFile('/bin/busybox', path.join(layer1, 'bin', 'busybox'));
      await fs.chmod(path.join(layer1, 'bin', 'busybox'), 0o755);
      for (const a of APPLETS) await fs.symlink('busybox', path.join(layer1, 'bin', a));
      await fs.writeFile(
        path.join(layer1, 'etc', 'passwd'),
        'root:x:0:0:root:/root:/bin/sh\napp:x:1500:1600::/:/bin/sh\n',
      );
      await fs.writeFile(path.join(layer1, 'etc', 'hidden'), 'from layer 1\n');
      await fs.writeFile(path.join(layer1, 'etc', 'kept'), 'kept from layer 1\n');
      // layer 2: a whiteout (0/0 char device) hides /etc/hidden, plus a file of its own
      await fs.mkdir(path.join(layer2, 'etc'));
      sh('mknod', [path.join(layer2, 'etc', 'hidden'), 'c', '0', '0']);
      await fs.writeFile(path.join(layer2, 'etc', 'layer2'), 'from layer 2\n');
      await runtime.init();
      await exits.start();
    });

    after(async () => {
      exits.stop();
      for (const id of ids) {
        const conmon = await runtime.monitorPid(id).catch(() => undefined);
        await runtime.delete(id, { force: true }).catch(() => undefined);
        if (conmon && alive(conmon)) process.kill(conmon, 'SIGKILL');
        await mounter.unmount(bundles.rootfs(id)).catch(() => undefined);
        await cgroups.remove(cgroupPathFor(POD_UID, id)).catch(() => undefined);
      }
      for (const m of await mounter.mountsUnder(tmp.path)) await mounter.unmount(m).catch(() => undefined);
      for (const h of await cgroups.hierarchies())
        await fs.rmdir(path.join(h, MONITOR_CGROUP)).catch(() => undefined);
      tmp.remove();
    });

    const config = (id: string, over: Partial<ContainerConfig> = {}): ContainerConfig => ({
      id,
      name: 'main',
      podName: `pod-${RUN}`,
      podUID: POD_UID,
      rootfs: bundles.rootfs(id),
      image: { cmd: ['sh'], env: ['PATH=/bin'] },
      ...over,
    });

    /** Snapshot → mount → bundle (no start). */
    async function prepare(id: string, over: Partial<ContainerConfig> = {}, layers = [layer1, layer2]) {
      const dir = await bundles.prepare(id);
      await mounter.mount(await snapshots.prepare(id, layers), bundles.rootfs(id));
      await bundles.writeSpec(id, buildSpec(config(id, over)));
      return dir;
    }

    function nextExit(id: string, ms = 10_000): Promise<ExitEvent> {
      return withTimeout(
        new Promise<ExitEvent>((resolve) => {
          const on = (ev: ExitEvent) => {
            if (ev.id !== id) return;
            exits.off('exit', on);
            resolve(ev);
          };
          exits.on('exit', on);
        }),
        ms,
        `exit of ${id}`,
      );
    }

    async function logLines(id: string, file = path.join(state, 'logs', `${id}.log`)): Promise<string[]> {
      const out: LogEntry[] = [];
      for await (const e of logs.read(file)) out.push(e);
      return out.map((e) => e.line);
    }

    /** Waits until the container has logged `line` (e.g. that a shell has set its trap: a SIGTERM
     * sent before that would be ignored by PID 1 without a word). */
    async function untilLogged(id: string, file: string, line: string): Promise<void> {
      const deadline = Date.now() + 10_000;
      while (!(await logLines(id, file)).includes(line)) {
        if (Date.now() > deadline) throw new Error(`${id} did not log "${line}"`);
        await new Promise((res) => setTimeout(res, 50));
      }
    }

    /** Runs a script to completion in a container; its output lines and exit code. */
    async function runScript(id: string, script: string, over: Partial<ContainerConfig> = {}) {
      const dir = await prepare(id, { command: ['/bin/sh', '-c', script], ...over });
      const exited = nextExit(id);
      await runtime.run(id, dir, path.join(state, 'logs', `${id}.log`));
      const ev = await exited;
      return { ev, lines: await logLines(id) };
    }

    async function remove(id: string) {
      await runtime.delete(id, { force: true });
      await mounter.unmount(bundles.rootfs(id));
      await snapshots.remove(id);
      await cgroups.remove(cgroupPathFor(POD_UID, id));
      await bundles.remove(id);
    }

    test('isolation: overlay root, command is PID 1, hostname, own network, masks, read-only /proc/sys, memory limit, default caps', async () => {
      const id = newId('iso');
      const script = [
        'ps',
        'echo HOST=$(hostname)',
        'ip -o link | while read n name rest; do echo LINK=$name; done',
        // /proc/kcore does not exist on this kernel; /proc/timer_list is masked the same way
        'echo MASKED=$(wc -c < /proc/timer_list)',
        'echo x > /proc/sys/kernel/domainname 2>/dev/null && echo PROCSYS=rw || echo PROCSYS=ro',
        'grep " /proc/sys " /proc/self/mounts',
        'echo MEM=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)',
        'grep CapEff /proc/1/status',
        'grep " / " /proc/self/mounts',
        'echo inside > /written-inside',
        'echo KEPT=$(cat /etc/kept) L2=$(cat /etc/layer2)',
        'cat /etc/hidden 2>/dev/null && echo HIDDEN=visible || echo HIDDEN=gone',
      ].join('\n');
      const { ev, lines } = await runScript(id, script, {
        resources: { memoryLimitBytes: 64 * 1024 * 1024 },
      });
      const text = lines.join('\n');
      assert.equal(ev.exitCode, 0, text);
      const pid1 = lines.find((l) => /^\s*1\s/.test(l));
      assert.match(pid1 ?? '', /\/bin\/sh -c ps/, `PID 1 is the command:\n${text}`);
      assert.ok(lines.includes(`HOST=pod-${RUN}`), text);
      assert.deepEqual(
        lines.filter((l) => l.startsWith('LINK=')),
        ['LINK=lo:'],
        'only lo in its own network namespace',
      );
      assert.ok(readFileSync('/proc/timer_list').length > 0, 'the host file has content');
      assert.ok(lines.includes('MASKED=0'), `/proc/timer_list is masked:\n${text}`);
      assert.ok(lines.includes('PROCSYS=ro'), text);
      assert.match(text, / \/proc\/sys proc ro,/);
      assert.ok(lines.includes(`MEM=${64 * 1024 * 1024}`), text);
      assert.match(text, /CapEff:\s+00000000a80425fb/);
      assert.match(text, /^overlay \/ overlay /m, 'root is an overlay');
      assert.ok(lines.includes('KEPT=kept from layer 1 L2=from layer 2'), text);
      assert.ok(lines.includes('HIDDEN=gone'), 'the whiteout in layer 2 hides /etc/hidden of layer 1');
      // the write landed in the private upper dir only
      const info = await snapshots.info(id);
      assert.equal(readFileSync(path.join(info!.upperDir, 'written-inside'), 'utf8'), 'inside\n');
      assert.ok(!existsSync(path.join(layer1, 'written-inside')));
      assert.ok(!existsSync(path.join(layer2, 'written-inside')));
      await remove(id);
    });

    test('volumes, /etc files, read-only root, numeric user and env/args/workingDir reach the process', async () => {
      const id = newId('vol');
      const vol = path.join(tmp.path, 'vol-data');
      const cfg = path.join(tmp.path, 'vol-cfg');
      const etc = path.join(tmp.path, 'pod-etc');
      for (const d of [vol, cfg, etc]) await fs.mkdir(d, { recursive: true });
      await fs.chmod(vol, 0o777);
      await fs.writeFile(path.join(cfg, 'key'), 'value');
      await fs.writeFile(path.join(etc, 'hosts'), '127.0.0.1 localhost\n10.0.0.7 pod-ip\n');
      await fs.writeFile(path.join(etc, 'resolv.conf'), 'nameserver 10.0.0.53\n');
      await fs.writeFile(path.join(etc, 'hostname'), `pod-${RUN}\n`);
      const script = [
        'echo ID=$(id -u):$(id -g) CWD=$(pwd) FOO=$FOO ARGS="$*"',
        'echo written > /data/out && echo DATA=ok',
        'echo CFG=$(cat /cfg/key)',
        'echo x > /cfg/new 2>/dev/null && echo CFGRO=no || echo CFGRO=yes',
        'touch /rootfile 2>/dev/null && echo ROOTRO=no || echo ROOTRO=yes',
        'grep -q pod-ip /etc/hosts && echo HOSTS=ok',
        'grep -q 10.0.0.53 /etc/resolv.conf && echo RESOLV=ok',
      ].join('\n');
      const { ev, lines } = await runScript(id, script, {
        command: ['/bin/sh', '-c', script, 'sh'],
        args: ['a1', 'a2'],
        env: [{ name: 'FOO', value: 'bar' }],
        workingDir: '/data',
        user: { uid: 1234, gid: 5678 },
        securityContext: { readOnlyRootFilesystem: true },
        mounts: [
          { source: vol, destination: '/data' },
          { source: cfg, destination: '/cfg', readOnly: true },
        ],
        etcFiles: {
          hosts: path.join(etc, 'hosts'),
          resolvConf: path.join(etc, 'resolv.conf'),
          hostname: path.join(etc, 'hostname'),
        },
      });
      const text = lines.join('\n');
      assert.equal(ev.exitCode, 0, text);
      assert.ok(lines.includes('ID=1234:5678 CWD=/data FOO=bar ARGS=a1 a2'), text);
      assert.ok(lines.includes('DATA=ok'), text);
      assert.equal(readFileSync(path.join(vol, 'out'), 'utf8'), 'written\n');
      assert.ok(lines.includes('CFG=value'), text);
      assert.ok(lines.includes('CFGRO=yes'), text);
      assert.ok(lines.includes('ROOTRO=yes'), text);
      assert.ok(lines.includes('HOSTS=ok'), text);
      assert.ok(lines.includes('RESOLV=ok'), text);
      await remove(id);
    });

    test('hostNetwork shares the host network namespace', async () => {
      const id = newId('hostnet');
      const { ev, lines } = await runScript(id, 'ip -o link | wc -l; hostname', { hostNetwork: true });
      assert.equal(ev.exitCode, 0, lines.join('\n'));
      const hostLinks = sh('ip', ['-o', 'link']).trim().split('\n').length;
      assert.equal(Number(lines[0]), hostLinks);
      assert.equal(lines[1], sh('hostname', []).trim());
      await remove(id);
    });

    test('the memory limit is set on the container cgroup, seen from the host', async () => {
      const id = newId('mem');
      const dir = await prepare(id, {
        command: ['sleep', '600'],
        resources: { memoryLimitBytes: 32 * 1024 * 1024 },
      });
      await runtime.run(id, dir, path.join(state, 'logs', `${id}.log`));
      const cg = path.join('/sys/fs/cgroup/memory', cgroupPathFor(POD_UID, id));
      assert.equal(
        readFileSync(path.join(cg, 'memory.limit_in_bytes'), 'utf8').trim(),
        String(32 * 1024 * 1024),
      );
      const st = await runtime.state(id);
      assert.equal(st?.status, 'running');
      assert.ok(readFileSync(path.join(cg, 'cgroup.procs'), 'utf8').split('\n').includes(String(st!.pid)));
      await remove(id);
    });

    test('two containers share the same lower layer dirs but not their writes', async () => {
      const a = newId('sha');
      const b = newId('shb');
      const da = await prepare(a, { command: ['sleep', '600'] });
      const db = await prepare(b, { command: ['sleep', '600'] });
      const ma = await snapshots.mounts(a);
      const mb = await snapshots.mounts(b);
      assert.equal(ma.options[0], mb.options[0], 'same lowerdir option');
      for (const l of ma.options[0].slice('lowerdir='.length).split(':'))
        assert.ok([layer1, layer2].includes(await fs.realpath(path.join(snapshots.root, l))));
      await runtime.run(a, da, path.join(state, 'logs', `${a}.log`));
      await runtime.run(b, db, path.join(state, 'logs', `${b}.log`));
      await fs.writeFile(path.join(bundles.rootfs(a), 'only-a'), 'a');
      assert.ok(!existsSync(path.join(bundles.rootfs(b), 'only-a')));
      assert.ok(existsSync(path.join(bundles.rootfs(b), 'etc', 'kept')));
      await remove(a);
      await remove(b);
    });

    test('a failed create says why and leaves no container or monitor behind', async () => {
      const id = newId('bad');
      const dir = await prepare(id, { command: ['/no/such/program'] });
      await assert.rejects(
        runtime.run(id, dir, path.join(state, 'logs', `${id}.log`)),
        /create .* failed: .*no such file or directory/,
      );
      assert.equal(await runtime.state(id), undefined);
      assert.equal(await runtime.monitorPid(id), undefined);
      await assert.rejects(runtime.create('bad/id', dir, '/tmp/x.log'), /must match/);
      await remove(id);
    });

    test('an exit is reported by the watcher with its exit code (3)', async () => {
      const id = newId('exit');
      const { ev } = await runScript(id, 'echo bye; exit 3');
      assert.equal(ev.exitCode, 3);
      assert.ok(ev.exitedAt instanceof Date);
      assert.deepEqual(await logLines(id), ['bye']);
      await remove(id);
    });

    test('a container outlives its runtime object; a new one finds it and an exit that happened unwatched', async () => {
      const id = newId('survive');
      const dir = await prepare(id, { command: ['sleep', '600'] });
      {
        const first = new RuncRuntime({ stateDir: state, monitorCgroup: MONITOR_CGROUP });
        await first.run(id, dir, path.join(state, 'logs', `${id}.log`));
      } // dropped: nothing in this process refers to the container any more
      exits.stop(); // and nobody watches exits
      try {
        const second = new RuncRuntime({ stateDir: state });
        const st = await second.state(id);
        assert.equal(st?.status, 'running');
        const monitor = await second.monitorPid(id);
        assert.ok(monitor && alive(monitor), 'its monitor is alive');
        assert.match(
          readFileSync(`/proc/${monitor}/cgroup`, 'utf8'),
          new RegExp(`memory:${MONITOR_CGROUP}$`, 'm'),
          'the monitor left the agent cgroup',
        );
        assert.ok((await second.list()).some((c) => c.id === id));
        process.kill(st!.pid, 'SIGKILL');
        for (let i = 0; i < 200 && (await second.state(id))?.status === 'running'; i++)
          await new Promise((r) => setTimeout(r, 25));
        // a fresh watcher (agent start) finds the exit in its first scan
        const fresh = new ExitWatcher(second.exitDir, { pollMs: 3_600_000 });
        const found = withTimeout(
          new Promise<ExitEvent>((resolve) => fresh.on('exit', (e) => e.id === id && resolve(e))),
          10_000,
          'exit found by scan',
        );
        await fresh.start();
        const ev = await found;
        fresh.stop();
        assert.equal(ev.exitCode, 137);
      } finally {
        await exits.start();
      }
      await remove(id);
    });

    describe('supervisor', () => {
      let sup: ContainerSupervisor;
      const supState = path.join(tmp.path, 'sup');
      before(async () => {
        sup = new ContainerSupervisor(
          { runtime, exits, snapshots, mounter, bundles, cgroups },
          { stateDir: supState, backoff: { initialDelayMs: 100, maxDelayMs: 400, resetAfterMs: 600_000 } },
        );
        await sup.start();
      });
      after(async () => {
        for (const r of sup.list()) await sup.stop(r.id, 0).catch(() => undefined);
        sup.close();
      });

      const spec = (
        id: string,
        command: string[],
        restartPolicy: 'Always' | 'OnFailure' | 'Never' = 'Always',
      ) => ({
        config: { ...config(id), command },
        layers: [layer1, layer2],
        restartPolicy,
      });

      async function until(
        id: string,
        pred: (r: ContainerRecord) => boolean,
        ms = 20_000,
      ): Promise<ContainerRecord> {
        const deadline = Date.now() + ms;
        for (;;) {
          const r = sup.get(id);
          if (r && pred(r)) return r;
          if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(r)}`);
          await new Promise((res) => setTimeout(res, 20));
        }
      }

      async function assertGone(id: string, pids: number[]) {
        const mounts = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).filter((m) =>
          m.startsWith(tmp.path),
        );
        assert.deepEqual(
          mounts.filter((m) => m.includes(id)),
          [],
          'no mount left',
        );
        assert.deepEqual(await cgroups.existing(cgroupPathFor(POD_UID, id)), [], 'no cgroup dirs left');
        assert.ok(!existsSync(path.join('/sys/fs/cgroup/memory', cgroupPathFor(POD_UID, id))));
        for (const p of pids) assert.ok(!alive(p), `process ${p} is gone`);
        assert.ok(!existsSync(bundles.dir(id)), 'bundle removed');
        assert.ok(!existsSync(path.join(snapshots.root, 's', snapshots.idFor(id))), 'snapshot removed');
        assert.equal(await runtime.state(id), undefined, 'runc forgot it');
        assert.ok(!existsSync(runtime.exitFile(id)));
      }

      test('a crashing container is restarted with backoff, counting restarts and keeping the previous log', async () => {
        const id = newId('crash');
        await sup.run(spec(id, ['/bin/sh', '-c', 'echo run; exit 2']));
        let sawBackoff = false;
        const r = await until(id, (x) => {
          if (x.reason === 'CrashLoopBackOff') sawBackoff = true;
          return x.restartCount >= 3;
        });
        assert.ok(sawBackoff, 'waited in CrashLoopBackOff');
        assert.equal(r.lastState?.exitCode, 2);
        assert.equal(r.lastState?.reason, 'Error');
        const prev: string[] = [];
        for await (const e of logs.read(r.logPath, { previous: true })) prev.push(e.line);
        assert.deepEqual(prev, ['run']);
        await sup.idle();
        const persisted = JSON.parse(
          readFileSync(path.join(supState, 'supervisor.json'), 'utf8'),
        ) as ContainerRecord[];
        assert.ok((persisted.find((x) => x.id === id)?.restartCount ?? 0) >= 3);
        await sup.stop(id, 1);
        await assertGone(id, []);
      });

      test('stop: SIGTERM is honoured, then everything is removed', async () => {
        const id = newId('term');
        const r = await sup.run(
          spec(id, [
            '/bin/sh',
            '-c',
            'trap "echo got-term; exit 0" TERM; echo trapped; while :; do sleep 0.1; done',
          ]),
        );
        assert.equal(r.state, 'running');
        const monitor = await runtime.monitorPid(id);
        await untilLogged(id, r.logPath, 'trapped');
        const exited = nextExit(id, 20_000);
        await sup.stop(id, 20, { keepLogs: true });
        assert.equal((await exited).exitCode, 0, 'exited through its TERM handler');
        assert.deepEqual(await logLines(id, r.logPath), ['trapped', 'got-term']);
        await assertGone(id, [r.pid!, monitor!]);
        await fs.rm(r.logPath, { force: true });
      });

      test('stop: SIGKILL after the grace period when TERM is trapped', async () => {
        const id = newId('kill');
        const r = await sup.run(
          spec(id, [
            '/bin/sh',
            '-c',
            'trap "echo ignoring-term" TERM; echo trapped; while :; do sleep 0.1; done',
          ]),
        );
        const monitor = await runtime.monitorPid(id);
        await untilLogged(id, r.logPath, 'trapped');
        const exited = nextExit(id, 20_000);
        await sup.stop(id, 1, { keepLogs: true });
        assert.equal((await exited).exitCode, 137, 'killed');
        assert.deepEqual(await logLines(id, r.logPath), ['trapped', 'ignoring-term']);
        await assertGone(id, [r.pid!, monitor!]);
        await fs.rm(r.logPath, { force: true });
      });

      test('a container killed by the OOM killer at its memory limit is OOMKilled', async () => {
        const id = newId('oom');
        const c = spec(id, ['tail', '/dev/zero'], 'Never');
        c.config.resources = { memoryLimitBytes: 32 * 1024 * 1024 };
        await sup.run(c);
        const r = await until(id, (x) => x.state === 'terminated');
        assert.equal(r.exitCode, 137, JSON.stringify(r));
        assert.equal(r.reason, 'OOMKilled');
        await sup.stop(id, 1);
        await assertGone(id, []);
      });

      test('agent restart: a new supervisor finds an exit that happened while none ran and keeps watching the rest', async () => {
        const stateDir = path.join(tmp.path, 'sup-restart');
        const make = () => {
          const rt = new RuncRuntime({ stateDir: state });
          const ex = new ExitWatcher(rt.exitDir, { pollMs: 3_600_000 });
          const s = new ContainerSupervisor(
            { runtime: rt, exits: ex, snapshots, mounter, bundles, cgroups },
            { stateDir, backoff: { initialDelayMs: 100, maxDelayMs: 400, resetAfterMs: 600_000 } },
          );
          return { s, ex };
        };
        const waitGo = ['/bin/sh', '-c', 'while [ ! -e /go ]; do sleep 0.1; done; exit 4'];
        const down = newId('down');
        const up = newId('up');
        const a = make();
        await a.s.start();
        await a.s.run(spec(down, waitGo, 'Never'));
        await a.s.run(spec(up, waitGo, 'Always'));
        const upPid = a.s.get(up)!.pid!;
        a.s.close();
        a.ex.stop(); // the agent is gone
        await fs.writeFile(path.join(bundles.rootfs(down), 'go'), '');
        for (let i = 0; i < 400 && (await runtime.state(down))?.status === 'running'; i++)
          await new Promise((res) => setTimeout(res, 25));
        assert.equal((await runtime.state(up))?.status, 'running');

        const b = make();
        try {
          await b.s.start();
          const deadline = Date.now() + 20_000;
          while (b.s.get(down)?.state !== 'terminated' && Date.now() < deadline)
            await new Promise((res) => setTimeout(res, 20));
          assert.equal(b.s.get(down)?.state, 'terminated');
          assert.equal(b.s.get(down)?.exitCode, 4);
          assert.equal(b.s.get(up)?.state, 'running');
          assert.equal(b.s.get(up)?.pid, upPid, 'the same process, untouched by the agent restart');
          // and its exit is noticed by the new agent
          await fs.writeFile(path.join(bundles.rootfs(up), 'go'), '');
          while ((b.s.get(up)?.restartCount ?? 0) < 1 && Date.now() < deadline + 20_000)
            await new Promise((res) => setTimeout(res, 20));
          assert.equal(b.s.get(up)?.restartCount, 1);
          assert.equal(b.s.get(up)?.lastState?.exitCode, 4);
        } finally {
          await b.s.stop(down, 1).catch(() => undefined);
          await b.s.stop(up, 1).catch(() => undefined);
          b.s.close();
          b.ex.stop();
        }
        await assertGone(down, []);
        await assertGone(up, [upPid]);
      });

      test("the image's user name is resolved from its /etc/passwd in the mounted rootfs", async () => {
        const id = newId('user');
        const c = {
          ...spec(id, ['/bin/sh', '-c', 'echo $(id -u):$(id -g)'], 'Never'),
          userFromImage: { imageUser: 'app' },
        };
        await sup.run(c);
        const r = await until(id, (x) => x.state === 'terminated');
        assert.equal(r.exitCode, 0);
        const out: string[] = [];
        for await (const e of logs.read(r.logPath)) out.push(e.line);
        assert.deepEqual(out, ['1500:1600']);
        await sup.stop(id, 1);
        await assertGone(id, []);
      });

      test('OnFailure: a clean exit is Completed and not restarted', async () => {
        const id = newId('done');
        await sup.run(spec(id, ['true'], 'OnFailure'));
        const r = await until(id, (x) => x.state === 'terminated');
        assert.equal(r.reason, 'Completed');
        assert.equal(r.exitCode, 0);
        assert.equal(r.restartCount, 0);
        await sup.stop(id, 1);
        await assertGone(id, []);
      });
    });

    test('start latency: create+start through the monitor vs raw runc run (reported, not asserted)', async (t) => {
      const id = newId('bench');
      const dir = await prepare(id, { command: ['true'] });
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const viaMonitor: number[] = [];
      for (let i = 0; i < 10; i++) {
        const exited = nextExit(id);
        const t0 = process.hrtime.bigint();
        await runtime.run(id, dir, path.join(state, 'logs', `${id}.log`));
        viaMonitor.push(Number(process.hrtime.bigint() - t0) / 1e6);
        assert.equal((await exited).exitCode, 0);
        await runtime.delete(id, { force: true });
      }
      const raw: number[] = [];
      for (let i = 0; i < 10; i++) {
        const t0 = process.hrtime.bigint();
        const r = spawnSync('/usr/sbin/runc', ['--root', runtime.runcRoot, 'run', '-b', dir, id], {
          stdio: 'ignore',
        });
        raw.push(Number(process.hrtime.bigint() - t0) / 1e6);
        assert.equal(r.status, 0);
      }
      const msg = `container start median over 10: conmon create+start ${median(viaMonitor).toFixed(1)} ms, raw runc run ${median(raw).toFixed(1)} ms`;
      t.diagnostic(msg);
      console.log(msg);
      await remove(id);
    });

    test('when every container of the pod is gone, so are the pod and /berth parent cgroups runc left behind', async () => {
      // runs last: every earlier test removed its containers
      assert.deepEqual(await cgroups.existing(`/berth/${POD_UID}`), []);
      for (const id of ids) assert.equal(await runtime.state(id), undefined, `${id} was deleted`);
      const left = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).filter((m) =>
        m.startsWith(tmp.path),
      );
      assert.deepEqual(left, []);
    });
  },
);
