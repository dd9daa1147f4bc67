/**
 * Podman as a second peer: Debian's podman (installed with apt-get when missing), run with a
 * temporary containers.conf (CONTAINERS_CONF), storage (--root/--runroot), tmp dir and network
 * config dir, so the host's own podman state is untouched. The default ulimits are lowered
 * because the host's hard nofile limit is 20000 (DESIGN.md). Containers get --network none and a
 * cgroup parent of their own, removed at the end.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mountsUnder } from '@berth/testing';
import { nowMs } from './cluster';
import { exec, removeCgroup } from './runc';

export class Podman {
  readonly dir: string;
  readonly cgroupParent: string;
  readonly version: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly base: string[];

  /** Host directories podman creates on first use; removed at the end when they did not exist before. */
  private readonly hostDirs = ['/run/containers/networks', '/run/containers', '/run/runc'].filter(
    (d) => !existsSync(d),
  );

  private constructor(dir: string, version: string) {
    this.dir = dir;
    this.version = version;
    this.cgroupParent = `/berth-bench-podman-${process.pid}`;
    const conf = path.join(dir, 'containers.conf');
    for (const d of ['root', 'runroot', 'tmp', 'net', 'volumes']) mkdirSync(path.join(dir, d));
    writeFileSync(
      conf,
      [
        '[containers]',
        'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
        'log_driver = "k8s-file"',
        '[network]',
        `network_config_dir = "${path.join(dir, 'net')}"`,
        '[engine]',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `events_logfile_path = "${path.join(dir, 'events.log')}"`,
        'runtime = "runc"',
        `tmp_dir = "${path.join(dir, 'tmp')}"`,
        `volume_path = "${path.join(dir, 'volumes')}"`,
        '',
      ].join('\n'),
    );
    this.env = { ...process.env, CONTAINERS_CONF: conf };
    this.base = [
      '--root',
      path.join(dir, 'root'),
      '--runroot',
      path.join(dir, 'runroot'),
      '--storage-driver',
      'overlay',
      // runc's state under the temp dir too (podman's default is /run/runc)
      '--runtime-flag',
      `root=${path.join(dir, 'runc')}`,
    ];
  }

  /** Finds podman (installing Debian's package if missing); throws with the reason when it cannot. */
  static async open(): Promise<Podman> {
    if (!existsSync('/usr/bin/podman')) {
      console.error('podman is missing: apt-get install -y --no-install-recommends podman …');
      const r = await exec(
        'apt-get',
        ['install', '-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', 'podman'],
        { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      );
      if (r.code !== 0 || !existsSync('/usr/bin/podman'))
        throw new Error(
          `cannot install podman with apt-get (exit ${r.code}): ${r.stderr.trim().split('\n').pop()}`,
        );
    }
    const v = await exec('podman', ['--version']);
    if (v.code !== 0) throw new Error(`podman --version failed: ${v.stderr.trim()}`);
    return new Podman(mkdtempSync(path.join(os.tmpdir(), 'berth-bench-podman-')), v.stdout.trim());
  }

  private async podman(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return exec('podman', [...this.base, ...args], this.env);
  }

  async pull(ref: string): Promise<void> {
    const r = await this.podman(['pull', '--quiet', '--tls-verify=false', ref]);
    if (r.code !== 0) throw new Error(`podman pull ${ref}: ${r.stderr.trim()}`);
  }

  /** `podman run -d --network none`: milliseconds from spawn to its exit (the container is running). */
  async runDetached(name: string, ref: string, args: string[]): Promise<number> {
    const t0 = nowMs();
    const r = await this.podman([
      'run',
      '-d',
      '--network',
      'none',
      '--cgroup-parent',
      this.cgroupParent,
      '--name',
      name,
      ref,
      ...args,
    ]);
    const dt = nowMs() - t0;
    if (r.code !== 0) throw new Error(`podman run ${name}: exit ${r.code}: ${r.stderr.trim()}`);
    return dt;
  }

  /** Removes every container and image, unmounts what is left under its dirs, removes cgroups and dirs. */
  async cleanup(): Promise<void> {
    await this.podman(['rm', '--force', '--all', '--time', '0']);
    await this.podman(['rmi', '--force', '--all']);
    for (const m of mountsUnder(this.dir)) await exec('umount', ['-l', m]);
    removeCgroup(this.cgroupParent);
    rmSync(this.dir, { recursive: true, force: true });
    for (const d of this.hostDirs) {
      try {
        rmdirSync(d); // only when empty
      } catch {
        /* not there, or someone else's files in it */
      }
    }
  }
}
