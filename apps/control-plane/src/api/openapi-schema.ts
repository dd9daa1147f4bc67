import { KINDS, MERGE_KEYS, modelFor, NamespaceMetaV1, type KindInfo } from '@berth/api';
import { getMetadataStorage } from 'class-validator';

/**
 * OpenAPI 3.0 component schemas generated from the class-validator models in libs/api (the same
 * metadata `validate()` runs), so the published schemas cannot drift from what the server
 * accepts. Every rule a model uses must be mapped here: an unknown one throws when the documents
 * are built (and so in the spec), rather than publishing a guess.
 */

export type Schema = Record<string, unknown>;
type Ctor = new () => object;

interface TypeMetadata {
  typeFunction: () => Ctor;
}
// class-transformer keeps @Type() targets here; its package has no typings for this entry point.
const transformerStorage = (
  require('class-transformer/cjs/storage') as {
    defaultMetadataStorage: { findTypeMetadata(target: Ctor, property: string): TypeMetadata | undefined };
  }
).defaultMetadataStorage;

/** Schemas every document may reference, named as Kubernetes names them. */
export const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
export const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';

/** Model classes shared by every kind: Kubernetes keeps them in apimachinery's meta/v1. */
const META_CLASSES = new Set([
  'ObjectMetaV1',
  'NamespaceMetaV1',
  'OwnerReferenceV1',
  'LabelSelectorV1',
  'LabelSelectorRequirementV1',
]);
/** Pod pieces first reached from apps/v1 kinds that Kubernetes keeps in core/v1. */
const CORE_CLASSES = new Set(['PodTemplateSpecV1']);

export function ref(name: string): Schema {
  return { $ref: `#/components/schemas/${name}` };
}

/** `io.k8s.api.core.v1`, `io.k8s.api.apps.v1`, `io.k8s.api.coordination.v1`. */
export function packageOf(group: string, version: string): string {
  return `io.k8s.api.${group === '' ? 'core' : group.split('.')[0]}.${version}`;
}

export function schemaName(k: { group: string; version: string; kind: string }): string {
  return `${packageOf(k.group, k.version)}.${k.kind}`;
}

function className(cls: Ctor): string {
  // Namespace metadata differs from ObjectMeta only in the rule for its name (a label).
  return (cls === NamespaceMetaV1 ? 'ObjectMetaV1' : cls.name).replace(/V1$/, '');
}

/**
 * Fields Kubernetes patches with `retainKeys` (a strategic merge drops the keys the patch does not
 * keep, e.g. rollingUpdate when the strategy type becomes Recreate); merge.ts applies `$retainKeys`.
 */
const RETAIN_KEYS = new Set(['strategy', 'volumes']);

const STRING_RULES: Record<string, Schema> = {
  isString: {},
  nonEmpty: {},
  dns1123Label: {},
  dns1123Subdomain: {},
  generateName: {},
  qualifiedName: {},
  envVarName: {},
  portName: {},
  configMapKey: {},
  imageReference: {},
  timestamp: { format: 'date-time' },
};

const MAP_RULES: Record<string, Schema> = {
  labelMap: { type: 'string', default: '' },
  annotationMap: { type: 'string', default: '' },
  stringMap: { type: 'string', default: '' },
  quantityMap: ref(QUANTITY),
  base64Map: { type: 'string', format: 'byte' },
};

interface Meta {
  type: string;
  name?: string;
  constraints?: unknown[];
}

/** The schema of one property from its validation metadata. */
function propertySchema(
  owner: Ctor,
  property: string,
  metas: Meta[],
  nameOf: (cls: Ctor) => string,
): { schema: Schema; required: boolean } {
  const names = new Set(metas.map((m) => (m.type === 'customValidation' ? m.name! : m.type)));
  const constraint = (name: string): unknown[] | undefined => metas.find((m) => m.name === name)?.constraints;
  const required = names.has('isDefined');
  for (const n of ['isDefined', 'conditionalValidation']) names.delete(n);
  const take = (...ns: string[]): boolean => {
    const all = ns.every((n) => names.has(n));
    if (all) for (const n of ns) names.delete(n);
    return all;
  };
  let schema: Schema;
  if (take('nestedValidation')) {
    const type = transformerStorage.findTypeMetadata(owner, property);
    if (!type) throw new Error(`openapi: ${owner.name}.${property} is nested but has no @Type`);
    const item = ref(nameOf(type.typeFunction()));
    if (take('isArray')) {
      schema = { type: 'array', items: item };
      const keys = MERGE_KEYS[property];
      if (keys)
        schema = {
          ...schema,
          'x-kubernetes-patch-merge-key': keys[0],
          'x-kubernetes-patch-strategy': RETAIN_KEYS.has(property) ? 'merge,retainKeys' : 'merge',
        };
    } else {
      take('isObject');
      // Siblings of a $ref are ignored in OpenAPI 3.0: Kubernetes wraps the reference in allOf.
      schema = RETAIN_KEYS.has(property)
        ? { allOf: [item], 'x-kubernetes-patch-strategy': 'retainKeys' }
        : item;
    }
  } else if (take('isObject')) {
    schema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  } else if (take('isArray')) {
    schema = { type: 'array', items: {} };
  } else if (take('stringList')) {
    schema = { type: 'array', items: { type: 'string' } };
  } else if (take('isInt')) {
    schema = { type: 'integer' };
    const range = constraint('intRange') as [number?, number?] | undefined;
    take('intRange');
    if (range?.[0] !== undefined) schema.minimum = range[0];
    if (range?.[1] !== undefined) schema.maximum = range[1];
  } else if (take('isBoolean')) {
    schema = { type: 'boolean' };
  } else if (take('quantity')) {
    schema = ref(QUANTITY);
  } else if (take('intOrString')) {
    schema = ref(INT_OR_STRING);
  } else if ([...names].some((n) => n in MAP_RULES)) {
    const n = [...names].find((x) => x in MAP_RULES)!;
    take(n);
    schema = { type: 'object', additionalProperties: MAP_RULES[n] };
  } else if (take('notSupported')) {
    schema = { type: 'string', enum: [...(constraint('notSupported')![0] as string[])] };
    for (const n of [...names]) if (n in STRING_RULES) take(n);
  } else if ([...names].some((n) => n in STRING_RULES)) {
    schema = { type: 'string' };
    for (const n of [...names]) if (n in STRING_RULES && take(n)) Object.assign(schema, STRING_RULES[n]);
  } else {
    throw new Error(`openapi: no schema for ${owner.name}.${property} (rules: ${[...names].join(', ')})`);
  }
  if (names.size)
    throw new Error(
      `openapi: ${owner.name}.${property}: rules not mapped to a schema: ${[...names].join(', ')}`,
    );
  return { schema, required };
}

function objectSchema(cls: Ctor, nameOf: (cls: Ctor) => string): Schema {
  const storage = getMetadataStorage();
  const metas = storage.getTargetValidationMetadatas(cls, '', true, false) as unknown as (Meta & {
    propertyName: string;
  })[];
  const byProperty = new Map<string, Meta[]>();
  for (const m of metas) {
    if (!byProperty.has(m.propertyName)) byProperty.set(m.propertyName, []);
    byProperty.get(m.propertyName)!.push(m);
  }
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  for (const [prop, ms] of [...byProperty].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const p = propertySchema(cls, prop, ms, nameOf);
    properties[prop] = p.schema;
    if (p.required) required.push(prop);
  }
  return { type: 'object', properties, ...(required.length ? { required } : {}) };
}

/**
 * The component schemas of the given kinds and of every model class they reach, keyed by
 * Kubernetes-style name; a kind's own schema carries `x-kubernetes-group-version-kind`.
 */
export function modelSchemas(kinds: readonly KindInfo[] = KINDS): Record<string, Schema> {
  const out: Record<string, Schema> = {};
  const names = new Map<Ctor, string>();
  const pending: Ctor[] = [];
  for (const k of kinds) {
    const model = modelFor(k);
    if (!model) throw new Error(`openapi: kind ${k.kind} has no model`);
    names.set(model, schemaName(k));
  }
  let currentPackage = '';
  const nameOf = (cls: Ctor): string => {
    let n = names.get(cls);
    if (!n) {
      const pkg = META_CLASSES.has(cls.name)
        ? META
        : CORE_CLASSES.has(cls.name)
          ? packageOf('', 'v1')
          : currentPackage;
      n = `${pkg}.${className(cls)}`;
      names.set(cls, n);
      pending.push(cls);
    }
    return n;
  };
  for (const k of kinds) {
    currentPackage = packageOf(k.group, k.version);
    const model = modelFor(k)!;
    out[schemaName(k)] = {
      ...objectSchema(model, nameOf),
      'x-kubernetes-group-version-kind': [{ group: k.group, version: k.version, kind: k.kind }],
    };
    while (pending.length) {
      const cls = pending.shift()!;
      const schema = objectSchema(cls, nameOf);
      const name = names.get(cls)!;
      if (out[name] && JSON.stringify(out[name]) !== JSON.stringify(schema))
        throw new Error(`openapi: two different models are both named ${name}`);
      out[name] = schema;
    }
  }
  return out;
}
