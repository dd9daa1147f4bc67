import { createHash } from 'node:crypto';
import path from 'node:path';
import {
  defaultPullPolicy,
  tryParseQuantity,
  type ContainerV1,
  type KubeObject,
  type PodSpecV1,
} from '@berth/api';
import { formatReference, parseReference } from '@berth/oci';
import type { ContainerConfig, ImageRunConfig, VolumeMount } from '../runtime';

/** A Pod as the agent reads it (typed spec/status). */
export interface Pod extends KubeObject {
  spec: PodSpecV1;
}

/** ConfigMaps and Secrets the pod refers to, fetched beforehand (missing ones absent). */
export interface PodSources {
  configMaps: Map<string, Record<string, string>>;
  secrets: Map<string, Record<string, string>>;
}

/** A problem with the pod's configuration of one container (CreateContainerConfigError). */
export class PodConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'PodConfigError';
  }
}

/** The runtime id of a pod's container: stable across agent restarts, unique per pod UID. */
export function containerId(podUID: string, containerName: string): string {
  return createHash('sha256').update(`${podUID}/${containerName}`).digest('hex').slice(0, 32);
}

export function podKey(pod: { metadata: { namespace?: string; name?: string } }): string {
  return `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`;
}

/** Kubernetes' default: Always for :latest or untagged images, IfNotPresent otherwise. */
export function pullPolicyOf(c: ContainerV1): 'Always' | 'IfNotPresent' | 'Never' {
  return c.imagePullPolicy ?? defaultPullPolicy(c.image) ?? 'IfNotPresent';
}

/** Decoded data of a Secret object (base64 `data` plus any `stringData`). */
export function secretData(secret: KubeObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((secret.data ?? {}) as Record<string, string>))
    out[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries((secret.stringData ?? {}) as Record<string, string>)) out[k] = v;
  return out;
}

/** Data of a ConfigMap (text `data` plus decoded `binaryData`). */
export function configMapData(cm: KubeObject): Record<string, string> {
  const out: Record<string, string> = { ...((cm.data ?? {}) as Record<string, string>) };
  for (const [k, v] of Object.entries((cm.binaryData ?? {}) as Record<string, string>))
    out[k] = Buffer.from(v, 'base64').toString('utf8');
  return out;
}

/** Normalised references (docker.io/library/busybox:latest) of every image the pods use; for image GC. */
export function imagesInUse(pods: Iterable<Pod>): Set<string> {
  const out = new Set<string>();
  for (const p of pods)
    for (const c of [...(p.spec.containers ?? []), ...(p.spec.initContainers ?? [])]) {
      try {
        out.add(formatReference(parseReference(c.image)));
      } catch {
        out.add(c.image);
      }
    }
  return out;
}

/** Names of the ConfigMaps and Secrets a pod's containers and volumes use. */
export function referencedSources(spec: PodSpecV1): { configMaps: Set<string>; secrets: Set<string> } {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  for (const c of spec.containers ?? []) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.configMapKeyRef) configMaps.add(e.valueFrom.configMapKeyRef.name);
      if (e.valueFrom?.secretKeyRef) secrets.add(e.valueFrom.secretKeyRef.name);
    }
    for (const f of c.envFrom ?? []) {
      if (f.configMapRef) configMaps.add(f.configMapRef.name);
      if (f.secretRef) secrets.add(f.secretRef.name);
    }
  }
  for (const v of spec.volumes ?? []) {
    if (v.configMap?.name) configMaps.add(v.configMap.name);
    if (v.secret?.secretName) secrets.add(v.secret.secretName);
  }
  return { configMaps, secrets };
}

/** Expands $(VAR) from `vars` as Kubernetes does; $$(VAR) stays literal $(VAR); unknown stay as written. */
export function expandVars(s: string, vars: Map<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => {
    if (m === '$$') return '$';
    return vars.has(name!) ? vars.get(name!)! : m;
  });
}

function fieldRefValue(pod: Pod, fieldPath: string, hostIP: string, podIP: string): string {
  const meta = pod.metadata;
  const label = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fieldPath);
  if (label) return (label[1] === 'labels' ? meta.labels : meta.annotations)?.[label[2]] ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? 'default';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? 'default';
    case 'status.hostIP':
      return hostIP;
    case 'status.podIP':
      return podIP;
    default:
      throw new PodConfigError(
        'valueFrom.fieldRef.fieldPath',
        `"${fieldPath}" is not supported (metadata.name, metadata.namespace, metadata.uid, metadata.labels['k'], metadata.annotations['k'], spec.nodeName, spec.serviceAccountName, status.hostIP, status.podIP)`,
      );
  }
}

function resourceFieldValue(c: ContainerV1, resource: string, divisor: string | number | undefined): string {
  const [kind, name] = resource.split('.');
  const q = (
    kind === 'limits' ? c.resources?.limits : kind === 'requests' ? c.resources?.requests : undefined
  )?.[name];
  const d = divisor === undefined ? 1 : (tryParseQuantity(divisor) ?? 1);
  if (q === undefined) return name === 'cpu' ? '0' : '0';
  const v = tryParseQuantity(q) ?? 0;
  return String(Math.ceil(v / d));
}

/** The container's env list after valueFrom and envFrom, with $(VAR) expanded. */
export function resolveEnv(
  pod: Pod,
  c: ContainerV1,
  src: PodSources,
  ips: { hostIP: string; podIP: string },
): { name: string; value: string }[] {
  const vars = new Map<string, string>();
  const lookup = (
    kind: 'configMap' | 'secret',
    name: string,
    key: string | undefined,
    optional: boolean | undefined,
    field: string,
  ) => {
    const data = (kind === 'configMap' ? src.configMaps : src.secrets).get(name);
    if (!data) {
      if (optional) return undefined;
      throw new PodConfigError(field, `${kind === 'configMap' ? 'configmap' : 'secret'} "${name}" not found`);
    }
    if (key === undefined) return data;
    if (!(key in data)) {
      if (optional) return undefined;
      throw new PodConfigError(
        field,
        `key "${key}" not found in ${kind === 'configMap' ? 'configmap' : 'secret'} "${name}"`,
      );
    }
    return data[key];
  };
  for (const [i, f] of (c.envFrom ?? []).entries()) {
    const ref = f.configMapRef ?? f.secretRef;
    if (!ref) continue;
    const data = lookup(
      f.configMapRef ? 'configMap' : 'secret',
      ref.name,
      undefined,
      ref.optional,
      `envFrom[${i}]`,
    ) as Record<string, string> | undefined;
    for (const [k, v] of Object.entries(data ?? {})) vars.set(`${f.prefix ?? ''}${k}`, v);
  }
  for (const [i, e] of (c.env ?? []).entries()) {
    const field = `env[${i}].valueFrom`;
    let value: string | undefined;
    if (e.valueFrom?.configMapKeyRef) {
      const r = e.valueFrom.configMapKeyRef;
      value = lookup('configMap', r.name, r.key, r.optional, `${field}.configMapKeyRef`) as
        string | undefined;
      if (value === undefined) continue;
    } else if (e.valueFrom?.secretKeyRef) {
      const r = e.valueFrom.secretKeyRef;
      value = lookup('secret', r.name, r.key, r.optional, `${field}.secretKeyRef`) as string | undefined;
      if (value === undefined) continue;
    } else if (e.valueFrom?.fieldRef) {
      value = fieldRefValue(pod, e.valueFrom.fieldRef.fieldPath, ips.hostIP, ips.podIP);
    } else if (e.valueFrom?.resourceFieldRef) {
      value = resourceFieldValue(
        c,
        e.valueFrom.resourceFieldRef.resource,
        e.valueFrom.resourceFieldRef.divisor,
      );
    } else value = expandVars(e.value ?? '', vars);
    vars.set(e.name, value);
  }
  return [...vars].map(([name, value]) => ({ name, value }));
}

/** Where each of the pod's volumes lives on the host (prepared by the volume manager). */
export type VolumePaths = Map<string, string>;

export function volumeMounts(c: ContainerV1, volumes: VolumePaths): VolumeMount[] {
  return (c.volumeMounts ?? []).map((m, i) => {
    const source = volumes.get(m.name);
    if (!source)
      throw new PodConfigError(`volumeMounts[${i}].name`, `no volume named "${m.name}" in the pod`);
    if (m.subPath && (path.isAbsolute(m.subPath) || m.subPath.split('/').includes('..')))
      throw new PodConfigError(`volumeMounts[${i}].subPath`, 'must be a relative path without ".."');
    return {
      source: m.subPath ? path.join(source, m.subPath) : source,
      destination: m.mountPath,
      readOnly: !!m.readOnly,
    };
  });
}

function quantityOr(q: string | number | undefined, field: string): number | undefined {
  if (q === undefined) return undefined;
  const v = tryParseQuantity(q);
  if (v === undefined || v < 0) throw new PodConfigError(field, `invalid quantity "${q}"`);
  return v;
}

export interface MapContainerInput {
  pod: Pod;
  container: ContainerV1;
  image: ImageRunConfig;
  sources: PodSources;
  volumes: VolumePaths;
  etcFiles: ContainerConfig['etcFiles'];
  hostIP: string;
  podIP: string;
  /** uid/gid resolved from the image's passwd (see resolveUserFrom). */
  user?: ContainerConfig['user'];
}

/**
 * A Pod's container as the runtime's ContainerConfig (without rootfs, which the supervisor fills
 * in). Pure; throws PodConfigError naming the field for what the runtime cannot do.
 */
export function mapContainer(x: MapContainerInput): Omit<ContainerConfig, 'rootfs'> {
  const { pod, container: c } = x;
  const uid = pod.metadata.uid ?? '';
  const env = resolveEnv(pod, c, x.sources, { hostIP: x.hostIP, podIP: x.podIP });
  const vars = new Map(env.map((e) => [e.name, e.value]));
  const mem = quantityOr(c.resources?.limits?.memory, 'resources.limits.memory');
  const cpu = quantityOr(c.resources?.limits?.cpu, 'resources.limits.cpu');
  const cpuReq = quantityOr(c.resources?.requests?.cpu, 'resources.requests.cpu');
  const sc = c.securityContext;
  const resources: NonNullable<ContainerConfig['resources']> = {};
  if (mem !== undefined && mem > 0) resources.memoryLimitBytes = Math.round(mem);
  if (cpu !== undefined && cpu > 0) resources.cpuLimitMillis = Math.max(1, Math.round(cpu * 1000));
  if (cpuReq !== undefined && cpuReq > 0) resources.cpuRequestMillis = Math.max(1, Math.round(cpuReq * 1000));
  if (c.workingDir !== undefined && !c.workingDir.startsWith('/'))
    throw new PodConfigError('workingDir', `must be an absolute path, got "${c.workingDir}"`);
  return {
    id: containerId(uid, c.name),
    name: c.name,
    podName: pod.spec.hostname ?? pod.metadata.name ?? '',
    podUID: uid,
    image: x.image,
    command: c.command?.map((s) => expandVars(s, vars)),
    args: c.args?.map((s) => expandVars(s, vars)),
    env,
    workingDir: c.workingDir,
    user: x.user,
    securityContext: sc
      ? {
          privileged: sc.privileged,
          readOnlyRootFilesystem: sc.readOnlyRootFilesystem,
          allowPrivilegeEscalation: sc.allowPrivilegeEscalation,
          capabilities: sc.capabilities,
        }
      : undefined,
    resources,
    mounts: volumeMounts(c, x.volumes),
    etcFiles: x.etcFiles,
    hostNetwork: !!pod.spec.hostNetwork,
  };
}
