import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KeyToPathV1, PodSpecV1, VolumeV1 } from '@berth/api';

/** A volume the agent cannot set up (missing ConfigMap, bad hostPath type, …). */
export class VolumeError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'VolumeError';
  }
}

/** /etc/hosts for a pod. Pure. */
export function hostsFile(opts: {
  hostname: string;
  podIP?: string;
  hostAliases?: { ip: string; hostnames?: string[] }[];
}): string {
  const lines = [
    '# Berth-managed hosts file.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
    `${opts.podIP || '127.0.1.1'}\t${opts.hostname}`,
  ];
  for (const a of opts.hostAliases ?? [])
    if (a.hostnames?.length) lines.push(`${a.ip}\t${a.hostnames.join('\t')}`);
  return lines.join('\n') + '\n';
}

/** /etc/resolv.conf for a pod: the host's, or a sane default when the host has none. */
export function resolvConf(hostResolv: string | undefined): string {
  const usable = hostResolv?.split('\n').some((l) => /^\s*nameserver\s+\S+/.test(l));
  return usable ? hostResolv!.replace(/\n?$/, '\n') : 'nameserver 127.0.0.1\noptions ndots:1\n';
}

/** Path of a projected key inside the volume directory; rejects escapes. */
function itemPath(dir: string, p: string, field: string): string {
  if (!p || path.isAbsolute(p) || p.split('/').includes('..'))
    throw new VolumeError(field, `"${p}" must be a relative path without ".."`);
  return path.join(dir, p);
}

/** Files of a configMap/secret volume: key → file (or the listed items). Pure. */
export function projectedFiles(
  data: Record<string, string>,
  items: KeyToPathV1[] | undefined,
  defaultMode: number | undefined,
  field: string,
): { path: string; content: string; mode: number }[] {
  const mode = defaultMode ?? 0o644;
  if (!items?.length) return Object.entries(data).map(([k, v]) => ({ path: k, content: v, mode }));
  return items.map((it, i) => {
    if (!(it.key in data)) throw new VolumeError(`${field}.items[${i}].key`, `key "${it.key}" not found`);
    return { path: it.path, content: data[it.key], mode: it.mode ?? mode };
  });
}

export interface PreparedPod {
  /** volume name → host path. */
  volumes: Map<string, string>;
  etcFiles: { hosts: string; resolvConf: string; hostname: string };
}

export interface VolumeSources {
  configMaps: Map<string, Record<string, string>>;
  secrets: Map<string, Record<string, string>>;
}

/**
 * Per-pod directories under `<root>/<podUID>/`: `volumes/<name>` for emptyDir, configMap and
 * secret volumes (key → file), `etc/{hosts,resolv.conf,hostname}`. hostPath volumes point at the
 * host path (created for DirectoryOrCreate/FileOrCreate, checked for the other types).
 */
export class VolumeManager {
  constructor(
    readonly root: string,
    private readonly hostResolvConf = '/etc/resolv.conf',
    private readonly hostHosts = '/etc/hosts',
  ) {}

  podDir(uid: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(uid))
      throw new VolumeError('metadata.uid', `"${uid}" is not a usable pod uid`);
    return path.join(this.root, uid);
  }

  async prepare(
    pod: { metadata: { uid?: string; name?: string }; spec: PodSpecV1 },
    sources: VolumeSources,
    hostIP: string,
  ): Promise<PreparedPod> {
    const dir = this.podDir(pod.metadata.uid ?? '');
    const volumes = new Map<string, string>();
    for (const [i, v] of (pod.spec.volumes ?? []).entries())
      volumes.set(v.name, await this.volume(dir, v, `spec.volumes[${i}]`, sources));
    const etc = path.join(dir, 'etc');
    await fs.mkdir(etc, { recursive: true });
    const hostname = pod.spec.hostNetwork ? os.hostname() : '';
    const name = hostname || pod.spec.hostname || pod.metadata.name || 'pod';
    const hosts = pod.spec.hostNetwork
      ? await fs.readFile(this.hostHosts, 'utf8').catch(() => hostsFile({ hostname: name, podIP: hostIP }))
      : hostsFile({ hostname: name, hostAliases: pod.spec.hostAliases });
    const files = {
      hosts: path.join(etc, 'hosts'),
      resolvConf: path.join(etc, 'resolv.conf'),
      hostname: path.join(etc, 'hostname'),
    };
    await fs.writeFile(files.hosts, hosts, { mode: 0o644 });
    await fs.writeFile(
      files.resolvConf,
      resolvConf(await fs.readFile(this.hostResolvConf, 'utf8').catch(() => undefined)),
      { mode: 0o644 },
    );
    await fs.writeFile(files.hostname, `${name}\n`, { mode: 0o644 });
    return { volumes, etcFiles: files };
  }

  private async volume(dir: string, v: VolumeV1, field: string, sources: VolumeSources): Promise<string> {
    const own = path.join(dir, 'volumes', v.name);
    if (v.emptyDir) {
      await fs.mkdir(own, { recursive: true });
      await fs.chmod(own, 0o777);
      return own;
    }
    if (v.hostPath) return this.hostPath(v.hostPath.path, v.hostPath.type ?? '', `${field}.hostPath`);
    if (v.configMap || v.secret) {
      const isCm = !!v.configMap;
      const src = (v.configMap ?? v.secret)!;
      const name = isCm ? v.configMap!.name : v.secret!.secretName;
      const sub = isCm ? `${field}.configMap` : `${field}.secret`;
      const data = name ? (isCm ? sources.configMaps : sources.secrets).get(name) : undefined;
      if (!data && !src.optional)
        throw new VolumeError(sub, `${isCm ? 'configmap' : 'secret'} "${name ?? ''}" not found`);
      const files = projectedFiles(data ?? {}, src.items, src.defaultMode ?? (isCm ? 0o644 : 0o644), sub);
      // write into a fresh directory, then swap it in: a running container sees whole updates
      const tmp = `${own}.tmp`;
      await fs.rm(tmp, { recursive: true, force: true });
      await fs.mkdir(tmp, { recursive: true, mode: isCm ? 0o755 : 0o750 });
      for (const [i, f] of files.entries()) {
        const p = itemPath(tmp, f.path, `${sub}.items[${i}].path`);
        await fs.mkdir(path.dirname(p), { recursive: true });
        await fs.writeFile(p, f.content, { mode: f.mode });
        await fs.chmod(p, f.mode);
      }
      await fs.mkdir(path.dirname(own), { recursive: true });
      const exists = await fs.stat(own).catch(() => undefined);
      if (!exists) await fs.rename(tmp, own);
      else {
        // keep the directory (it may be bind-mounted): replace its contents
        for (const n of await fs.readdir(own))
          await fs.rm(path.join(own, n), { recursive: true, force: true });
        for (const n of await fs.readdir(tmp)) await fs.rename(path.join(tmp, n), path.join(own, n));
        await fs.rm(tmp, { recursive: true, force: true });
      }
      return own;
    }
    throw new VolumeError(field, 'no volume source: use emptyDir, hostPath, configMap or secret');
  }

  private async hostPath(p: string, type: string, field: string): Promise<string> {
    if (!path.isAbsolute(p)) throw new VolumeError(`${field}.path`, `must be an absolute path, got "${p}"`);
    const st = await fs.stat(p).catch(() => undefined);
    const want = (ok: boolean, what: string) => {
      if (!ok) throw new VolumeError(`${field}.path`, `"${p}" is not ${what} (type ${type})`);
    };
    switch (type) {
      case 'DirectoryOrCreate':
        if (!st) await fs.mkdir(p, { recursive: true, mode: 0o755 });
        else want(st.isDirectory(), 'a directory');
        break;
      case 'FileOrCreate':
        if (!st) {
          await fs.mkdir(path.dirname(p), { recursive: true });
          await fs.writeFile(p, '', { mode: 0o644 });
        } else want(st.isFile(), 'a file');
        break;
      case 'Directory':
        want(!!st?.isDirectory(), 'an existing directory');
        break;
      case 'File':
        want(!!st?.isFile(), 'an existing file');
        break;
      case 'Socket':
        want(!!st?.isSocket(), 'a socket');
        break;
      case 'CharDevice':
        want(!!st?.isCharacterDevice(), 'a character device');
        break;
      case 'BlockDevice':
        want(!!st?.isBlockDevice(), 'a block device');
        break;
      default:
        if (!st) await fs.mkdir(p, { recursive: true, mode: 0o755 }); // Kubernetes leaves it to the runtime, which creates a dir
    }
    return p;
  }

  /** Removes the pod's directories (nothing in them is mounted on the host). */
  async remove(uid: string): Promise<void> {
    await fs.rm(this.podDir(uid), { recursive: true, force: true });
  }

  /** Pod UIDs with a directory here. */
  async list(): Promise<string[]> {
    return fs.readdir(this.root).catch(() => []);
  }
}
