/**
 * `validate(obj)`: strict validation of any supported kind. Structure, types, unknown fields and
 * per-field rules come from the class-validator models (models/*.model.ts); rules that span
 * fields (duplicate names, mounts of missing volumes, selector vs template labels, requests vs
 * limits) are checked here on the plain object. Every problem is one StatusCause with the
 * field path (`spec.template.spec.containers[0].image`) and a message that says what is allowed.
 */
import { plainToInstance } from 'class-transformer';
import {
  getMetadataStorage,
  validateSync,
  type ValidationError,
  type ValidatorOptions,
} from 'class-validator';
import type { StatusCause } from './errors';
import { apiVersionOf, KINDS, kindFor, type KindInfo } from './kinds';
import {
  ConfigMapV1,
  DeploymentV1,
  EventV1,
  LeaseV1,
  NamespaceV1,
  NodeV1,
  ReplicaSetV1,
  SecretV1,
} from './models/kinds.model';
import { PodV1, VOLUME_SOURCES } from './models/pod.model';
import { tryParseQuantity } from './quantity';
import { matchLabels, selectorFromLabelSelectorSpec, type LabelSelectorSpec } from './selectors';
import { decodeProblems, describeValue, isPlainObject } from './validation';

type Ctor = new () => object;

/** The class-validator model of each kind, keyed by `apiVersion/Kind`. */
export const MODELS: Readonly<Record<string, Ctor>> = {
  'v1/Namespace': NamespaceV1,
  'v1/Node': NodeV1,
  'v1/Pod': PodV1,
  'v1/Event': EventV1,
  'v1/ConfigMap': ConfigMapV1,
  'v1/Secret': SecretV1,
  'apps/v1/Deployment': DeploymentV1,
  'apps/v1/ReplicaSet': ReplicaSetV1,
  'coordination.k8s.io/v1/Lease': LeaseV1,
};

export function modelFor(k: KindInfo): Ctor | undefined {
  return MODELS[`${apiVersionOf(k)}/${k.kind}`];
}

/**
 * class-validator recomputes a class's validation metadata (a filter over every decorator of the
 * class and its parents) and regroups it by property for every object it validates: for a pod
 * that is most of validateSync's time. The metadata only changes when decorators register, so
 * the global storage answers from a cache that any registration clears. Same metadata, same
 * order, same checks; lookups with groups are not cached.
 */
function cacheValidationMetadata(): void {
  type Storage = ReturnType<typeof getMetadataStorage> & { berthCached?: boolean };
  const storage = getMetadataStorage() as Storage;
  if (storage.berthCached) return;
  storage.berthCached = true;
  type Metas = ReturnType<Storage['getTargetValidationMetadatas']>;
  const targets = new Map<unknown, Map<string, Metas>>();
  const grouped = new WeakMap<Metas, ReturnType<Storage['groupByPropertyName']>>();
  const lookup = storage.getTargetValidationMetadatas.bind(storage);
  const group = storage.groupByPropertyName.bind(storage);
  const addValidation = storage.addValidationMetadata.bind(storage);
  const addConstraint = storage.addConstraintMetadata.bind(storage);
  storage.getTargetValidationMetadatas = (target, schema, always, strictGroups, groups) => {
    if (groups?.length) return lookup(target, schema, always, strictGroups, groups);
    const key = `${schema}\u0000${always}\u0000${strictGroups}`;
    let byKey = targets.get(target);
    if (!byKey) targets.set(target, (byKey = new Map()));
    let metas = byKey.get(key);
    if (!metas)
      byKey.set(key, (metas = Object.freeze(lookup(target, schema, always, strictGroups, groups)) as Metas));
    return metas;
  };
  storage.groupByPropertyName = (metas) => {
    if (!Object.isFrozen(metas)) return group(metas);
    let g = grouped.get(metas);
    if (!g) grouped.set(metas, (g = group(metas)));
    return g;
  };
  storage.addValidationMetadata = (m) => {
    targets.clear();
    addValidation(m);
  };
  storage.addConstraintMetadata = (m) => {
    targets.clear();
    addConstraint(m);
  };
}
cacheValidationMetadata();

const OPTIONS: ValidatorOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  stopAtFirstError: true,
  validationError: { target: true, value: true },
};

export const MAX_CONFIG_SIZE = 1024 * 1024;

function supportedKinds(): string {
  return KINDS.map((k) => `${apiVersionOf(k)} ${k.kind}`).join(', ');
}

/** Returns every problem with the object; [] when it is valid. */
export function validate(obj: unknown): StatusCause[] {
  if (!isPlainObject(obj))
    return [
      {
        reason: 'FieldValueTypeInvalid',
        field: '',
        message: `must be an object with apiVersion, kind and metadata, not ${describeValue(obj)}`,
      },
    ];
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== 'string' || !apiVersion)
    return [
      {
        reason: 'FieldValueRequired',
        field: 'apiVersion',
        message: `Required value: one of ${supportedKinds()}`,
      },
    ];
  if (typeof kind !== 'string' || !kind)
    return [
      { reason: 'FieldValueRequired', field: 'kind', message: `Required value: one of ${supportedKinds()}` },
    ];
  const info = kindFor(apiVersion, kind);
  const model = info && modelFor(info);
  if (!info || !model) {
    const sameKind = KINDS.find((k) => k.kind === kind);
    if (sameKind)
      return [
        {
          reason: 'FieldValueNotSupported',
          field: 'apiVersion',
          message: `no kind "${kind}" is registered for version "${apiVersion}": use apiVersion: ${apiVersionOf(sameKind)}`,
        },
      ];
    return [
      {
        reason: 'FieldValueNotSupported',
        field: 'kind',
        message: `no kind "${kind}" is registered for version "${apiVersion}": supported kinds are ${supportedKinds()}`,
      },
    ];
  }
  const causes: StatusCause[] = [];
  try {
    const instance = plainToInstance(model, obj, { enableCircularCheck: true }) as object;
    convert(validateSync(instance, OPTIONS), '', causes);
  } catch (e) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: '',
      message: `cannot be validated: ${(e as Error).message}`,
    });
  }
  crossFieldChecks(info.kind, obj, causes);
  return dedupe(causes);
}

function dedupe(causes: StatusCause[]): StatusCause[] {
  const seen = new Set<string>();
  return causes.filter((c) => {
    const k = `${c.field}\u0000${c.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function join(base: string, prop: string): string {
  if (/^\d+$/.test(prop)) return `${base}[${prop}]`;
  return base ? `${base}.${prop}` : prop;
}

const TYPE_MESSAGES: Record<string, string> = {
  isString: 'must be a string',
  isInt: 'must be an integer',
  isBoolean: 'must be a boolean (true or false)',
  isArray: 'must be a list',
  nestedValidation: 'must be an object (a mapping)',
};

function knownFields(target: object | undefined): string[] {
  if (!target) return [];
  const metas = getMetadataStorage().getTargetValidationMetadatas(target.constructor, '', true, false);
  return [...new Set(metas.map((m) => m.propertyName))];
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

function unknownFieldMessage(prop: string, parentPath: string, target: object | undefined): string {
  let msg = `unknown field "${prop}"`;
  if (/(^|\.)volumes\[\d+\]$/.test(parentPath))
    return `${msg}: unsupported volume type; supported volume types are ${VOLUME_SOURCES.join(', ')}`;
  const known = knownFields(target);
  const near =
    known.find((k) => k.toLowerCase() === prop.toLowerCase()) ??
    known.find((k) => editDistance(k.toLowerCase(), prop.toLowerCase()) <= 2);
  if (near) msg += ` (did you mean "${near}"?)`;
  else if (known.length && known.length <= 12) msg += `: allowed fields are ${known.join(', ')}`;
  return msg;
}

function convert(errors: ValidationError[], base: string, out: StatusCause[]): void {
  for (const e of errors) {
    const path = join(base, e.property);
    for (const [name, raw] of Object.entries(e.constraints ?? {})) {
      if (name === 'whitelistValidation') {
        out.push({
          reason: 'FieldValueInvalid',
          field: path,
          message: unknownFieldMessage(e.property, base, e.target),
        });
      } else if (name === 'isDefined') {
        out.push({ reason: 'FieldValueRequired', field: path, message: 'Required value' });
      } else if (TYPE_MESSAGES[name]) {
        out.push({
          reason: 'FieldValueTypeInvalid',
          field: path,
          message: `${TYPE_MESSAGES[name]}, not ${describeValue(e.value)}`,
        });
      } else {
        const reason =
          name === 'notSupported'
            ? 'FieldValueNotSupported'
            : name === 'nonEmpty'
              ? 'FieldValueRequired'
              : 'FieldValueInvalid';
        for (const p of decodeProblems(raw))
          out.push({ reason, field: p.sub ? `${path}${p.sub}` : path, message: p.message });
      }
    }
    if (e.children?.length) convert(e.children, path, out);
  }
}

// ---------------------------------------------------------------------------------------------
// Rules across fields, on the plain object (types are re-checked: a structural error is already
// reported by the model and must not crash these).

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return isPlainObject(v) ? v : undefined;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function crossFieldChecks(kind: string, o: Obj, out: StatusCause[]): void {
  const meta = obj(o.metadata);
  if (meta && !meta.name && !meta.generateName)
    out.push({
      reason: 'FieldValueRequired',
      field: 'metadata.name',
      message: 'Required value: name or generateName is required',
    });
  switch (kind) {
    case 'Pod': {
      const spec = obj(o.spec);
      if (spec) checkPodSpec(spec, 'spec', out, false);
      break;
    }
    case 'Deployment':
    case 'ReplicaSet':
      checkWorkload(kind, obj(o.spec), out);
      break;
    case 'ConfigMap':
      checkConfigMap(o, out);
      break;
    case 'Secret':
      checkSize(o, ['data', 'stringData'], 'Secret', out);
      break;
  }
}

function checkPodSpec(spec: Obj, path: string, out: StatusCause[], template: boolean): void {
  const containers = list(spec.containers);
  if (Array.isArray(spec.containers) && containers.length === 0)
    out.push({
      reason: 'FieldValueRequired',
      field: `${path}.containers`,
      message: 'Required value: a pod must have at least one container',
    });
  const volumes = list(spec.volumes);
  const volumeNames = new Set<string>();
  volumes.forEach((v, i) => {
    const vol = obj(v);
    const name = str(vol?.name);
    if (!vol) return;
    if (name !== undefined) {
      if (volumeNames.has(name))
        out.push({
          reason: 'FieldValueDuplicate',
          field: `${path}.volumes[${i}].name`,
          message: `Duplicate value: "${name}": volume names must be unique within a pod`,
        });
      volumeNames.add(name);
    }
    const sources = VOLUME_SOURCES.filter((s) => vol[s] !== undefined && vol[s] !== null);
    if (sources.length > 1)
      out.push({
        reason: 'FieldValueForbidden',
        field: `${path}.volumes[${i}]`,
        message: `may not specify more than 1 volume type (found ${sources.join(', ')})`,
      });
  });
  const names = new Set<string>();
  const all: [string, unknown][] = [
    ...list(spec.initContainers).map((c, i): [string, unknown] => [`${path}.initContainers[${i}]`, c]),
    ...containers.map((c, i): [string, unknown] => [`${path}.containers[${i}]`, c]),
  ];
  for (const [cpath, c] of all) {
    const ctr = obj(c);
    if (!ctr) continue;
    const name = str(ctr.name);
    if (name) {
      if (names.has(name))
        out.push({
          reason: 'FieldValueDuplicate',
          field: `${cpath}.name`,
          message: `Duplicate value: "${name}": container names must be unique within a pod (init containers included)`,
        });
      names.add(name);
    }
    checkContainer(ctr, cpath, volumeNames, out, cpath.includes('.initContainers['));
  }
  if (template) {
    const rp = spec.restartPolicy;
    if (rp !== undefined && rp !== null && rp !== 'Always')
      out.push({
        reason: 'FieldValueNotSupported',
        field: `${path}.restartPolicy`,
        message: `unsupported value ${describeValue(rp)}: supported values: "Always"`,
      });
  }
}

function checkContainer(c: Obj, path: string, volumes: Set<string>, out: StatusCause[], init: boolean): void {
  const mountPaths = new Set<string>();
  list(c.volumeMounts).forEach((m, i) => {
    const vm = obj(m);
    const name = str(vm?.name);
    if (name && !volumes.has(name))
      out.push({
        reason: 'FieldValueNotFound',
        field: `${path}.volumeMounts[${i}].name`,
        message: `Not found: "${name}": no volume of that name in the pod's volumes`,
      });
    const mp = str(vm?.mountPath);
    if (mp) {
      if (mountPaths.has(mp))
        out.push({
          reason: 'FieldValueInvalid',
          field: `${path}.volumeMounts[${i}].mountPath`,
          message: `invalid value "${mp}": must be unique within a container`,
        });
      mountPaths.add(mp);
    }
  });
  const portNames = new Set<string>();
  list(c.ports).forEach((p, i) => {
    const name = str(obj(p)?.name);
    if (!name) return;
    if (portNames.has(name))
      out.push({
        reason: 'FieldValueDuplicate',
        field: `${path}.ports[${i}].name`,
        message: `Duplicate value: "${name}": port names must be unique within a container`,
      });
    portNames.add(name);
  });
  list(c.env).forEach((e, i) => {
    const env = obj(e);
    if (!env) return;
    const from = obj(env.valueFrom);
    if (from) {
      if (typeof env.value === 'string' && env.value !== '')
        out.push({
          reason: 'FieldValueInvalid',
          field: `${path}.env[${i}].valueFrom`,
          message: 'may not be specified when `value` is not empty',
        });
      const sources = ['configMapKeyRef', 'secretKeyRef', 'fieldRef', 'resourceFieldRef'].filter(
        (s) => from[s] !== undefined && from[s] !== null,
      );
      if (sources.length !== 1)
        out.push({
          reason: 'FieldValueInvalid',
          field: `${path}.env[${i}].valueFrom`,
          message:
            sources.length === 0
              ? 'must specify one of: configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef'
              : `may not have more than one field specified at a time (found ${sources.join(', ')})`,
        });
    }
  });
  list(c.envFrom).forEach((e, i) => {
    const ef = obj(e);
    if (!ef) return;
    const n = ['configMapRef', 'secretRef'].filter((s) => ef[s] !== undefined && ef[s] !== null).length;
    if (n !== 1)
      out.push({
        reason: 'FieldValueInvalid',
        field: `${path}.envFrom[${i}]`,
        message:
          n === 0
            ? 'must specify one of: configMapRef, secretRef'
            : 'may not have more than one field specified at a time (configMapRef or secretRef)',
      });
  });
  const res = obj(c.resources);
  const requests = obj(res?.requests);
  const limits = obj(res?.limits);
  if (requests && limits) {
    for (const [r, q] of Object.entries(requests)) {
      if (!(r in limits)) continue;
      const req = tryParseQuantity(q as string);
      const lim = tryParseQuantity(limits[r] as string);
      if (req !== undefined && lim !== undefined && req > lim)
        out.push({
          reason: 'FieldValueInvalid',
          field: `${path}.resources.requests[${r}]`,
          message: `invalid value ${describeValue(q)}: must be less than or equal to ${r} limit of ${String(limits[r])}`,
        });
    }
  }
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const p = obj(c[probe]);
    if (!p) continue;
    if (init) {
      out.push({
        reason: 'FieldValueForbidden',
        field: `${path}.${probe}`,
        message: 'may not be set for init containers',
      });
      continue;
    }
    const handlers = ['exec', 'httpGet', 'tcpSocket', 'grpc'].filter(
      (h) => p[h] !== undefined && p[h] !== null,
    );
    if (handlers.length !== 1)
      out.push({
        reason: handlers.length ? 'FieldValueForbidden' : 'FieldValueRequired',
        field: `${path}.${probe}`,
        message:
          handlers.length === 0
            ? 'must specify a handler type: one of exec, httpGet, tcpSocket, grpc'
            : `may not specify more than 1 handler type (found ${handlers.join(', ')})`,
      });
    if (probe !== 'readinessProbe' && typeof p.successThreshold === 'number' && p.successThreshold !== 1)
      out.push({
        reason: 'FieldValueInvalid',
        field: `${path}.${probe}.successThreshold`,
        message: `invalid value ${p.successThreshold}: must be 1`,
      });
  }
}

function percentOrInt(v: unknown): { n: number; percent: boolean } | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return { n: v, percent: false };
  if (typeof v === 'string' && /^\d+%$/.test(v)) return { n: Number(v.slice(0, -1)), percent: true };
  return undefined;
}

function checkWorkload(kind: string, spec: Obj | undefined, out: StatusCause[]): void {
  if (!spec) return;
  const selector = obj(spec.selector);
  const template = obj(spec.template);
  if (selector)
    list(selector.matchExpressions).forEach((e, i) => {
      const expr = obj(e);
      if (!expr) return;
      const values = list(expr.values);
      const field = `spec.selector.matchExpressions[${i}].values`;
      if ((expr.operator === 'In' || expr.operator === 'NotIn') && values.length === 0)
        out.push({
          reason: 'FieldValueRequired',
          field,
          message: `Required value: must be specified when \`operator\` is '${expr.operator}'`,
        });
      if ((expr.operator === 'Exists' || expr.operator === 'DoesNotExist') && values.length > 0)
        out.push({
          reason: 'FieldValueForbidden',
          field,
          message: `may not be specified when \`operator\` is '${expr.operator}'`,
        });
    });
  if (selector) {
    const hasLabels = obj(selector.matchLabels) && Object.keys(obj(selector.matchLabels)!).length > 0;
    const hasExpr = list(selector.matchExpressions).length > 0;
    if (!hasLabels && !hasExpr)
      out.push({
        reason: 'FieldValueInvalid',
        field: 'spec.selector',
        message: `empty selector is invalid for ${kind.toLowerCase()}: set matchLabels (e.g. app: web) and the same labels on the template`,
      });
    else if (template) {
      const labels = obj(obj(template.metadata)?.labels) as Record<string, string> | undefined;
      let matches = false;
      try {
        matches = matchLabels(selectorFromLabelSelectorSpec(selector as LabelSelectorSpec), labels);
      } catch {
        matches = true; // a bad selector is reported by the model
      }
      if (!matches)
        out.push({
          reason: 'FieldValueInvalid',
          field: 'spec.template.metadata.labels',
          message:
            '`selector` does not match template `labels`: the template labels must satisfy spec.selector',
        });
    }
  }
  if (template) {
    const pspec = obj(template.spec);
    if (pspec) checkPodSpec(pspec, 'spec.template.spec', out, true);
  }
  if (kind !== 'Deployment') return;
  const strategy = obj(spec.strategy);
  const ru = obj(strategy?.rollingUpdate);
  if (strategy?.type === 'Recreate' && ru)
    out.push({
      reason: 'FieldValueForbidden',
      field: 'spec.strategy.rollingUpdate',
      message: "may not be specified when strategy `type` is 'Recreate'",
    });
  if (ru) {
    const surge = percentOrInt(ru.maxSurge);
    const unavail = percentOrInt(ru.maxUnavailable);
    if (unavail?.percent && unavail.n > 100)
      out.push({
        reason: 'FieldValueInvalid',
        field: 'spec.strategy.rollingUpdate.maxUnavailable',
        message: `invalid value "${String(ru.maxUnavailable)}": must not be greater than 100%`,
      });
    if (surge && unavail && surge.n === 0 && unavail.n === 0)
      out.push({
        reason: 'FieldValueInvalid',
        field: 'spec.strategy.rollingUpdate.maxUnavailable',
        message: 'may not be 0 when `maxSurge` is 0: a rollout could never make progress',
      });
  }
  const pds = spec.progressDeadlineSeconds;
  const mrs = typeof spec.minReadySeconds === 'number' ? spec.minReadySeconds : 0;
  if (typeof pds === 'number' && pds <= mrs)
    out.push({
      reason: 'FieldValueInvalid',
      field: 'spec.progressDeadlineSeconds',
      message: `invalid value ${pds}: must be greater than minReadySeconds (${mrs})`,
    });
}

function checkConfigMap(o: Obj, out: StatusCause[]): void {
  const data = obj(o.data);
  const bin = obj(o.binaryData);
  if (data && bin)
    for (const k of Object.keys(bin))
      if (k in data)
        out.push({
          reason: 'FieldValueInvalid',
          field: `binaryData[${k}]`,
          message: `invalid key "${k}": duplicate of key present in data`,
        });
  checkSize(o, ['data', 'binaryData'], 'ConfigMap', out);
}

function checkSize(o: Obj, fields: string[], kind: string, out: StatusCause[]): void {
  let size = 0;
  for (const f of fields)
    for (const [k, v] of Object.entries(obj(o[f]) ?? {}))
      size += k.length + (typeof v === 'string' ? v.length : 0);
  if (size > MAX_CONFIG_SIZE)
    out.push({
      reason: 'FieldValueTooLong',
      field: fields[0],
      message: `${kind} is too long: ${size} bytes, must have at most ${MAX_CONFIG_SIZE} bytes`,
    });
}
