/**
 * The container the runtime runs, independent of the Pod API: the pod sync step maps a Pod's
 * container (plus its image config and prepared volumes) into one of these.
 */
export interface ContainerConfig {
  /** Runtime id (runc container id): [A-Za-z0-9][A-Za-z0-9_.-]*, at most 64 characters. */
  id: string;
  /** Container name inside its pod (for logs and conmon). */
  name: string;
  /** The pod's name: the container's hostname. */
  podName: string;
  /** Pod UID: the parent cgroup is /berth/<podUID>. */
  podUID: string;
  /** Absolute path of the mounted root filesystem (not a symlink). */
  rootfs: string;
  /** From the image config. */
  image: ImageRunConfig;
  /** Kubernetes `command` (replaces the image Entrypoint). */
  command?: string[];
  /** Kubernetes `args` (replaces the image Cmd). */
  args?: string[];
  /** Container env; overrides image env of the same name. */
  env?: { name: string; value: string }[];
  workingDir?: string;
  /** Numeric user, already resolved (see resolveUser). Defaults to root. */
  user?: { uid: number; gid: number; additionalGids?: number[] };
  securityContext?: {
    privileged?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
  resources?: {
    memoryLimitBytes?: number;
    /** CPU limit in millicores → CFS quota. */
    cpuLimitMillis?: number;
    /** CPU request in millicores → cpu shares. */
    cpuRequestMillis?: number;
  };
  /** Volume binds prepared by the caller. */
  mounts?: VolumeMount[];
  /** Files the agent writes per pod, bind-mounted at /etc/hosts, /etc/resolv.conf, /etc/hostname. */
  etcFiles?: { hosts?: string; resolvConf?: string; hostname?: string };
  /** Share the host's network namespace. */
  hostNetwork?: boolean;
  /** Join this network namespace (e.g. the pod's) instead of creating a new one. */
  networkNamespacePath?: string;
}

export interface ImageRunConfig {
  entrypoint?: string[];
  cmd?: string[];
  /** KEY=value entries. */
  env?: string[];
  workingDir?: string;
  user?: string;
}

export interface VolumeMount {
  source: string;
  destination: string;
  readOnly?: boolean;
}

// ---- OCI runtime spec (the subset Berth writes), see opencontainers/runtime-spec config.md ----

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: OciMount[];
  linux: OciLinux;
}

export interface OciProcess {
  terminal?: boolean;
  user: { uid: number; gid: number; additionalGids?: number[]; umask?: number };
  args: string[];
  env: string[];
  cwd: string;
  capabilities: {
    bounding: string[];
    effective: string[];
    permitted: string[];
    inheritable: string[];
    ambient: string[];
  };
  rlimits: { type: string; hard: number; soft: number }[];
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
}

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export interface OciLinux {
  namespaces: { type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup'; path?: string }[];
  cgroupsPath: string;
  resources: {
    devices: { allow: boolean; type?: 'a' | 'b' | 'c'; major?: number; minor?: number; access?: string }[];
    memory?: { limit?: number; swap?: number };
    cpu?: { shares?: number; quota?: number; period?: number };
    pids?: { limit: number };
  };
  maskedPaths: string[];
  readonlyPaths: string[];
}
