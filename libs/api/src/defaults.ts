/**
 * `applyDefaults(obj)`: the values Kubernetes fills in when a field is left out, on a deep copy.
 * Idempotent; never touches metadata (the server owns metadata.namespace).
 */
import { parseImageReference as parseReference } from './image-ref';
import type { KubeObject } from './meta';
import { deepCopy } from './merge';

type Obj = Record<string, any>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Always for `:latest` or an image with neither tag nor digest, IfNotPresent otherwise. */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' | undefined {
  try {
    return parseReference(image).tag === 'latest' ? 'Always' : 'IfNotPresent';
  } catch {
    return undefined;
  }
}

const PROBE_DEFAULTS = { timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 };

function defaultProbe(p: unknown): void {
  if (!isObj(p)) return;
  for (const [k, v] of Object.entries(PROBE_DEFAULTS)) p[k] ??= v;
  if (isObj(p.httpGet)) {
    p.httpGet.path ??= '/';
    p.httpGet.scheme ??= 'HTTP';
  }
}

function defaultContainer(c: unknown, hostNetwork: boolean): void {
  if (!isObj(c)) return;
  if (typeof c.image === 'string' && c.imagePullPolicy === undefined) {
    const policy = defaultPullPolicy(c.image);
    if (policy) c.imagePullPolicy = policy;
  }
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  if (Array.isArray(c.ports))
    for (const p of c.ports) {
      if (!isObj(p)) continue;
      p.protocol ??= 'TCP';
      if (hostNetwork && p.hostPort === undefined && typeof p.containerPort === 'number')
        p.hostPort = p.containerPort;
    }
  if (Array.isArray(c.env))
    for (const e of c.env)
      if (isObj(e) && isObj(e.valueFrom) && isObj(e.valueFrom.fieldRef))
        e.valueFrom.fieldRef.apiVersion ??= 'v1';
  // A limit without a request requests the limit, as Kubernetes does.
  if (isObj(c.resources) && isObj(c.resources.limits)) {
    const requests: Obj = isObj(c.resources.requests) ? c.resources.requests : {};
    for (const [r, q] of Object.entries(c.resources.limits)) requests[r] ??= q;
    if (Object.keys(requests).length) c.resources.requests = requests;
  }
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
}

/** Defaults a pod spec in place. */
export function defaultPodSpec(spec: unknown): void {
  if (!isObj(spec)) return;
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  const hostNetwork = spec.hostNetwork === true;
  for (const list of [spec.initContainers, spec.containers])
    if (Array.isArray(list)) for (const c of list) defaultContainer(c, hostNetwork);
  if (Array.isArray(spec.volumes))
    for (const v of spec.volumes) {
      if (!isObj(v)) continue;
      if (v.emptyDir == null && v.hostPath == null && v.configMap == null && v.secret == null)
        v.emptyDir = {};
      if (isObj(v.configMap)) v.configMap.defaultMode ??= 0o644;
      if (isObj(v.secret)) v.secret.defaultMode ??= 0o644;
      if (isObj(v.hostPath)) v.hostPath.type ??= '';
    }
}

/** Returns a defaulted deep copy of obj. */
export function applyDefaults(obj: KubeObject): KubeObject {
  const o = deepCopy(obj);
  const spec = o.spec;
  switch (o.kind) {
    case 'Pod':
      defaultPodSpec(spec);
      break;
    case 'Deployment':
      if (!isObj(spec)) break;
      spec.replicas ??= 1;
      spec.strategy ??= {};
      if (isObj(spec.strategy)) {
        spec.strategy.type ??= 'RollingUpdate';
        if (spec.strategy.type === 'RollingUpdate') {
          spec.strategy.rollingUpdate ??= {};
          if (isObj(spec.strategy.rollingUpdate)) {
            spec.strategy.rollingUpdate.maxSurge ??= '25%';
            spec.strategy.rollingUpdate.maxUnavailable ??= '25%';
          }
        }
      }
      spec.revisionHistoryLimit ??= 10;
      spec.progressDeadlineSeconds ??= 600;
      spec.minReadySeconds ??= 0;
      if (isObj(spec.template)) defaultPodSpec(spec.template.spec);
      break;
    case 'ReplicaSet':
      if (!isObj(spec)) break;
      spec.replicas ??= 1;
      spec.minReadySeconds ??= 0;
      if (isObj(spec.template)) defaultPodSpec(spec.template.spec);
      break;
    case 'Secret':
      o.type ??= 'Opaque';
      break;
  }
  return o;
}
