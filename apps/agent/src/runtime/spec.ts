import path from 'node:path';
import type { ContainerConfig, OciMount, OciSpec } from './types';

/** Docker's default capability set (moby oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Every capability Linux knows, in number order (CAP_CHOWN = 0 … CAP_CHECKPOINT_RESTORE = 40). */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** Docker's masked paths: bind-mounted over with /dev/null (files) or an empty read-only tmpfs. */
export const MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const CFS_PERIOD_US = 100_000;

export class ContainerConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'ContainerConfigError';
  }
}

export interface BuildSpecOptions {
  /** RLIMIT_NOFILE soft/hard (must stay under the host's hard limit). */
  nofile?: { soft: number; hard: number };
  /** Parent of every container cgroup; the container's is <cgroupParent>/<podUID>/<id>. */
  cgroupParent?: string;
}

/**
 * The process arguments from the image's Entrypoint/Cmd and the container's command/args, by
 * Kubernetes' rules: command replaces Entrypoint (and drops Cmd), args replace Cmd. Empty lists
 * count as not given.
 */
export function resolveArgs(
  imageEntrypoint: string[] | undefined,
  imageCmd: string[] | undefined,
  command: string[] | undefined,
  args: string[] | undefined,
): string[] {
  const has = (a: string[] | undefined): a is string[] => !!a && a.length > 0;
  if (has(command)) return has(args) ? [...command, ...args] : [...command];
  return [...(imageEntrypoint ?? []), ...(has(args) ? args : (imageCmd ?? []))];
}

/** Image env with the container's env applied on top: same names replaced in place, new ones appended. */
export function mergeEnv(
  imageEnv: string[] | undefined,
  env: { name: string; value: string }[] | undefined,
): string[] {
  const order: string[] = [];
  const values = new Map<string, string>();
  const set = (name: string, value: string) => {
    if (!values.has(name)) order.push(name);
    values.set(name, value);
  };
  for (const e of imageEnv ?? []) {
    const i = e.indexOf('=');
    if (i <= 0) set(e, '');
    else set(e.slice(0, i), e.slice(i + 1));
  }
  for (const e of env ?? []) set(e.name, e.value);
  return order.map((n) => `${n}=${values.get(n)}`);
}

function normaliseCap(c: string, field: string): string {
  const up = c.trim().toUpperCase();
  if (up === 'ALL') return 'ALL';
  const name = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!ALL_CAPABILITIES.includes(name))
    throw new ContainerConfigError(field, `unknown capability "${c}" (use names such as NET_ADMIN, or ALL)`);
  return name;
}

/** Docker's defaults, then securityContext drop (ALL empties the set), then add (ALL gives every one). */
export function resolveCapabilities(sc: ContainerConfig['securityContext']): string[] {
  if (sc?.privileged) return [...ALL_CAPABILITIES];
  const drop = (sc?.capabilities?.drop ?? []).map((c, i) =>
    normaliseCap(c, `securityContext.capabilities.drop[${i}]`),
  );
  const add = (sc?.capabilities?.add ?? []).map((c, i) =>
    normaliseCap(c, `securityContext.capabilities.add[${i}]`),
  );
  let caps = drop.includes('ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c));
  if (add.includes('ALL')) caps = [...ALL_CAPABILITIES];
  else for (const c of add) if (!caps.includes(c)) caps.push(c);
  return ALL_CAPABILITIES.filter((c) => caps.includes(c));
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function isWholeNonNegative(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0;
}

/** Checks what buildSpec relies on; throws ContainerConfigError naming the field. */
export function validateContainerConfig(c: ContainerConfig): void {
  if (!ID_RE.test(c.id ?? '')) throw new ContainerConfigError('id', `"${c.id}" must match ${ID_RE.source}`);
  if (!ID_RE.test(c.podUID ?? ''))
    throw new ContainerConfigError('podUID', `"${c.podUID}" must match ${ID_RE.source}`);
  if (!c.podName) throw new ContainerConfigError('podName', 'must not be empty');
  if (!c.rootfs || !path.isAbsolute(c.rootfs))
    throw new ContainerConfigError('rootfs', `must be an absolute path, got "${c.rootfs}"`);
  if (c.workingDir !== undefined && !path.isAbsolute(c.workingDir))
    throw new ContainerConfigError('workingDir', `must be an absolute path, got "${c.workingDir}"`);
  if (c.user) {
    if (!isWholeNonNegative(c.user.uid))
      throw new ContainerConfigError('user.uid', 'must be a whole number ≥ 0');
    if (!isWholeNonNegative(c.user.gid))
      throw new ContainerConfigError('user.gid', 'must be a whole number ≥ 0');
    for (const [i, g] of (c.user.additionalGids ?? []).entries())
      if (!isWholeNonNegative(g))
        throw new ContainerConfigError(`user.additionalGids[${i}]`, 'must be a whole number ≥ 0');
  }
  const r = c.resources ?? {};
  for (const k of ['memoryLimitBytes', 'cpuLimitMillis', 'cpuRequestMillis'] as const) {
    const v = r[k];
    if (v !== undefined && (!isWholeNonNegative(v) || v === 0))
      throw new ContainerConfigError(`resources.${k}`, `must be a whole number > 0, got ${v}`);
  }
  for (const [i, e] of (c.env ?? []).entries())
    if (!e.name || e.name.includes('='))
      throw new ContainerConfigError(`env[${i}].name`, `"${e.name}" must be non-empty without "="`);
  for (const [i, m] of (c.mounts ?? []).entries()) {
    if (!path.isAbsolute(m.source ?? ''))
      throw new ContainerConfigError(`mounts[${i}].source`, `must be an absolute path, got "${m.source}"`);
    if (!path.isAbsolute(m.destination ?? ''))
      throw new ContainerConfigError(
        `mounts[${i}].destination`,
        `must be an absolute path, got "${m.destination}"`,
      );
  }
  if (c.networkNamespacePath !== undefined && !path.isAbsolute(c.networkNamespacePath))
    throw new ContainerConfigError('networkNamespacePath', `must be an absolute path`);
  if (c.hostNetwork && c.networkNamespacePath)
    throw new ContainerConfigError('networkNamespacePath', 'cannot be set together with hostNetwork');
}

/**
 * The OCI runtime config (config.json) for one container. Pure: everything it needs is in `c`.
 * With hostNetwork the container also shares the host's UTS namespace (as Kubernetes does), so it
 * keeps the host's hostname.
 */
export function buildSpec(c: ContainerConfig, opts: BuildSpecOptions = {}): OciSpec {
  validateContainerConfig(c);
  const privileged = !!c.securityContext?.privileged;
  const args = resolveArgs(c.image.entrypoint, c.image.cmd, c.command, c.args);
  if (!args.length)
    throw new ContainerConfigError(
      'command',
      'no command to run: set command/args or use an image with Entrypoint/Cmd',
    );

  let env = mergeEnv(c.image.env, c.env);
  if (!env.some((e) => e.startsWith('PATH='))) env = [`PATH=${DEFAULT_PATH}`, ...env];
  if (!env.some((e) => e.startsWith('HOSTNAME=')) && !c.hostNetwork) env.push(`HOSTNAME=${c.podName}`);

  let cwd = c.workingDir || c.image.workingDir || '/';
  if (!cwd.startsWith('/')) cwd = `/${cwd}`;

  const caps = resolveCapabilities(c.securityContext);
  const user = c.user ?? { uid: 0, gid: 0 };
  const nofile = opts.nofile ?? { soft: 1024, hard: 1024 };

  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/sys',
      type: 'sysfs',
      source: 'sysfs',
      options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'],
    },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro'],
    },
  ];
  const etc = c.etcFiles ?? {};
  for (const [dest, src] of [
    ['/etc/hosts', etc.hosts],
    ['/etc/resolv.conf', etc.resolvConf],
    ['/etc/hostname', etc.hostname],
  ] as const) {
    if (src) mounts.push({ destination: dest, type: 'bind', source: src, options: ['rbind', 'rprivate'] });
  }
  for (const m of c.mounts ?? []) {
    mounts.push({
      destination: m.destination,
      type: 'bind',
      source: m.source,
      options: ['rbind', 'rprivate', m.readOnly ? 'ro' : 'rw'],
    });
  }

  const namespaces: OciSpec['linux']['namespaces'] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'mount' }];
  if (!c.hostNetwork) {
    namespaces.push({ type: 'uts' });
    namespaces.push(
      c.networkNamespacePath ? { type: 'network', path: c.networkNamespacePath } : { type: 'network' },
    );
  }

  const res = c.resources ?? {};
  const cpuShareMillis = res.cpuRequestMillis ?? res.cpuLimitMillis;
  const resources: OciSpec['linux']['resources'] = {
    devices: privileged ? [{ allow: true, access: 'rwm' }] : [{ allow: false, access: 'rwm' }],
    cpu: {
      // Kubernetes: shares = millicores * 1024 / 1000, at least 2 (BestEffort gets 2)
      shares: cpuShareMillis === undefined ? 2 : Math.max(2, Math.floor((cpuShareMillis * 1024) / 1000)),
    },
  };
  if (res.cpuLimitMillis !== undefined) {
    resources.cpu!.quota = Math.max(1000, Math.floor((res.cpuLimitMillis * CFS_PERIOD_US) / 1000));
    resources.cpu!.period = CFS_PERIOD_US;
  }
  if (res.memoryLimitBytes !== undefined) resources.memory = { limit: res.memoryLimitBytes };

  const spec: OciSpec = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: {
        uid: user.uid,
        gid: user.gid,
        ...(user.additionalGids?.length ? { additionalGids: user.additionalGids } : {}),
      },
      args,
      env,
      cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: nofile.soft, hard: nofile.hard }],
      noNewPrivileges: !privileged && c.securityContext?.allowPrivilegeEscalation !== true,
    },
    root: { path: c.rootfs, readonly: !!c.securityContext?.readOnlyRootFilesystem },
    mounts,
    linux: {
      namespaces,
      cgroupsPath: cgroupPathFor(c.podUID, c.id, opts.cgroupParent),
      resources,
      maskedPaths: privileged ? [] : [...MASKED_PATHS],
      readonlyPaths: privileged ? [] : [...READONLY_PATHS],
    },
  };
  if (!c.hostNetwork) spec.hostname = c.podName;
  return spec;
}

/** The container's cgroup path (relative to each controller's root): /berth/<podUID>/<id>. */
export function cgroupPathFor(podUID: string, id: string, parent = '/berth'): string {
  return path.posix.join(parent, podUID, id);
}
