/**
 * Composed class-validator decorators for Kubernetes-shaped fields. Each one checks the type as
 * well as the rule, so a wrong type is reported once, and its message says what is allowed.
 *
 * Validators of maps (labels, annotations, data) report each bad key as its own problem with a
 * sub-path (`[key]`), encoded in the message with SUBPATH_MARK and split with PROBLEM_SEPARATOR;
 * `validate()` turns them into one StatusCause each (`metadata.labels[app]`).
 */
import 'reflect-metadata';
import { applyDecorators } from '@nestjs/common/decorators/core/apply-decorators';
import { Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsDefined,
  IsInt,
  IsOptional,
  IsString,
  ValidateBy,
  ValidateNested,
  type ValidationArguments,
} from 'class-validator';
import { parseImageReference as parseReference } from './image-ref';
import {
  configMapKeyErrors,
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  envVarNameErrors,
  labelValueErrors,
  portNameErrors,
  qualifiedNameErrors,
} from './names';
import { isValidQuantity, QUANTITY_HELP } from './quantity';

export const SUBPATH_MARK = '\u0001';
export const PROBLEM_SEPARATOR = '\u0002';

export interface Problem {
  /** Appended to the property's path, e.g. `[app]` or `.name`. */
  sub?: string;
  message: string;
}

export function encodeProblems(problems: Problem[]): string {
  return problems
    .map((p) => (p.sub ? `${SUBPATH_MARK}${p.sub}${SUBPATH_MARK}${p.message}` : p.message))
    .join(PROBLEM_SEPARATOR);
}

export function decodeProblems(message: string): Problem[] {
  return message.split(PROBLEM_SEPARATOR).map((m) => {
    if (m.startsWith(SUBPATH_MARK)) {
      const end = m.indexOf(SUBPATH_MARK, 1);
      return { sub: m.slice(1, end), message: m.slice(end + 1) };
    }
    return { message: m };
  });
}

/** A short rendering of a bad value for messages: `"Foo"`, `3`, `a list`, `an object`. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? v.slice(0, 80) + '…' : v);
  return String(v);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A custom property rule: `check` returns the problems (none when valid). `constraints` are kept in
 * class-validator's metadata for readers of the models (the OpenAPI schemas: enum values, ranges).
 */
export function Rule(
  name: string,
  check: (value: unknown, args: ValidationArguments) => Problem[],
  constraints?: unknown[],
): PropertyDecorator {
  return ValidateBy({
    name,
    constraints,
    validator: {
      validate: (value: unknown, args?: ValidationArguments) => check(value, args!).length === 0,
      defaultMessage: (args?: ValidationArguments) => encodeProblems(check(args!.value, args!)),
    },
  });
}

function stringRule(name: string, what: string, errors: (s: string) => string[]): PropertyDecorator {
  return Rule(name, (v) => {
    if (typeof v !== 'string') return [{ message: `must be ${what} (a string), not ${describeValue(v)}` }];
    const errs = errors(v);
    return errs.length ? [{ message: `invalid value ${describeValue(v)}: ${errs.join('; ')}` }] : [];
  });
}

// ---------------------------------------------------------------------------------------------
// Presence and basic types. The messages of IsDefined/IsString/IsInt/IsBoolean/IsArray are
// written by validate() from the constraint name (see CONSTRAINT_MESSAGES there).

/** Required and non-empty string. */
export function RequiredString(): PropertyDecorator {
  return applyDecorators(
    IsDefined(),
    IsString(),
    Rule('nonEmpty', (v) => (v === '' ? [{ message: 'Required value: must not be empty' }] : [])),
  );
}

export function OptionalString(): PropertyDecorator {
  return applyDecorators(IsOptional(), IsString());
}

export function OptionalBool(): PropertyDecorator {
  return applyDecorators(IsOptional(), IsBoolean());
}

/** Optional integer within [min, max]. */
export function OptionalInt(min?: number, max?: number): PropertyDecorator {
  return applyDecorators(IsOptional(), IntInRange(min, max));
}

export function RequiredInt(min?: number, max?: number): PropertyDecorator {
  return applyDecorators(IsDefined(), IntInRange(min, max));
}

function rangeText(min?: number, max?: number): string {
  if (min !== undefined && max !== undefined) return `between ${min} and ${max}, inclusive`;
  if (min !== undefined) return `greater than or equal to ${min}`;
  if (max !== undefined) return `less than or equal to ${max}`;
  return '';
}

export function IntInRange(min?: number, max?: number): PropertyDecorator {
  return applyDecorators(
    IsInt(),
    Rule(
      'intRange',
      (v) => {
        if (typeof v !== 'number') return [];
        if ((min !== undefined && v < min) || (max !== undefined && v > max))
          return [{ message: `invalid value ${v}: must be ${rangeText(min, max)}` }];
        return [];
      },
      [min, max],
    ),
  );
}

export function OptionalStringList(): PropertyDecorator {
  return applyDecorators(IsOptional(), EachString('a string'));
}

/** Optional string from a fixed set (reported as FieldValueNotSupported). */
export function OptionalEnum(values: readonly string[]): PropertyDecorator {
  return applyDecorators(IsOptional(), Enum(values));
}

export function RequiredEnum(values: readonly string[]): PropertyDecorator {
  return applyDecorators(IsDefined(), Enum(values));
}

export function Enum(values: readonly string[]): PropertyDecorator {
  return Rule(
    'notSupported',
    (v) =>
      typeof v === 'string' && values.includes(v)
        ? []
        : [
            {
              message: `unsupported value ${describeValue(v)}: supported values: ${values.map((x) => `"${x}"`).join(', ')}`,
            },
          ],
    [values],
  );
}

/** A nested object of class `cls` (not a list, not a scalar). */
export function Nested(cls: () => new () => object, required = false): PropertyDecorator {
  return applyDecorators(
    required ? IsDefined() : IsOptional(),
    Rule('isObject', (v) =>
      isPlainObject(v) ? [] : [{ message: `must be an object (a mapping), not ${describeValue(v)}` }],
    ),
    ValidateNested(),
    Type(cls),
  );
}

/** A list of objects of class `cls` (an item that is not an object is reported at its index). */
export function NestedList(cls: () => new () => object, required = false): PropertyDecorator {
  return applyDecorators(
    required ? IsDefined() : IsOptional(),
    IsArray(),
    ValidateNested({ each: true }),
    Type(cls),
  );
}

/** Any object; its contents are not checked (status blobs, affinity). */
export function LooseObject(): PropertyDecorator {
  return applyDecorators(
    IsOptional(),
    Rule('isObject', (v) =>
      isPlainObject(v) ? [] : [{ message: `must be an object (a mapping), not ${describeValue(v)}` }],
    ),
  );
}

/** Any list; its items are not checked. */
export function LooseList(): PropertyDecorator {
  return applyDecorators(IsOptional(), IsArray());
}

// ---------------------------------------------------------------------------------------------
// Names and values

export function IsDns1123Label(): PropertyDecorator {
  return stringRule('dns1123Label', 'a DNS-1123 label', dns1123LabelErrors);
}

export function IsDns1123Subdomain(): PropertyDecorator {
  return stringRule('dns1123Subdomain', 'a DNS-1123 subdomain', dns1123SubdomainErrors);
}

/** `generateName`: a DNS-1123 subdomain prefix (may end in '-' or '.'; a suffix is appended). */
export function IsGenerateName(): PropertyDecorator {
  return stringRule('generateName', 'a name prefix', (s) => {
    const base = s.replace(/[-.]+$/, '') || 'a';
    return dns1123SubdomainErrors(base).concat(
      s.length > 253 - 5 ? ['must be no more than 248 characters (5 characters are appended)'] : [],
    );
  });
}

export function IsQualifiedName(): PropertyDecorator {
  return stringRule('qualifiedName', 'a qualified name', qualifiedNameErrors);
}

export function IsEnvVarName(): PropertyDecorator {
  return stringRule('envVarName', 'an environment variable name', envVarNameErrors);
}

export function IsPortName(): PropertyDecorator {
  return stringRule('portName', 'a port name (IANA service name)', portNameErrors);
}

export function IsConfigMapKey(): PropertyDecorator {
  return stringRule('configMapKey', 'a config key', configMapKeyErrors);
}

/** An image reference as `docker pull` takes it: `nginx`, `nginx:1.25`, `host:5000/a/b@sha256:…`. */
export function IsImageReference(): PropertyDecorator {
  return stringRule('imageReference', 'an image reference', (s) => {
    if (s.trim() !== s) return ['must not have leading or trailing whitespace'];
    try {
      parseReference(s);
      return [];
    } catch (e) {
      return [
        `${(e as Error).message}; expected [registry[:port]/]repository[:tag][@sha256:digest], e.g. "nginx:1.25" ` +
          'or "registry.local:5000/team/web:1.2"',
      ];
    }
  });
}

export function IsQuantity(): PropertyDecorator {
  return Rule('quantity', (v) =>
    isValidQuantity(v) ? [] : [{ message: `invalid value ${describeValue(v)}: must be ${QUANTITY_HELP}` }],
  );
}

/** RFC 3339 date-time, as Kubernetes writes timestamps (`2024-01-02T03:04:05Z`). */
export function IsTimestamp(): PropertyDecorator {
  return stringRule('timestamp', 'an RFC 3339 timestamp', (s) =>
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.test(s) &&
    !Number.isNaN(Date.parse(s))
      ? []
      : ['must be an RFC 3339 timestamp such as "2024-01-02T03:04:05Z"'],
  );
}

/**
 * An int-or-string: an integer in [min, max] or a string that is a percentage (`25%`) when
 * `percent`, or a port name when `portName`.
 */
export function IsIntOrString(opts: {
  min?: number;
  max?: number;
  percent?: boolean;
  portName?: boolean;
}): PropertyDecorator {
  const allowed = [
    `an integer ${rangeText(opts.min, opts.max)}`.trim(),
    ...(opts.percent ? ['a percentage such as "25%"'] : []),
    ...(opts.portName ? ['a port name'] : []),
  ].join(' or ');
  return Rule('intOrString', (v) => {
    if (typeof v === 'number') {
      if (
        !Number.isInteger(v) ||
        (opts.min !== undefined && v < opts.min) ||
        (opts.max !== undefined && v > opts.max)
      )
        return [{ message: `invalid value ${v}: must be ${allowed}` }];
      return [];
    }
    if (typeof v === 'string') {
      if (opts.percent && /^\d+%$/.test(v)) return [];
      if (opts.portName && portNameErrors(v).length === 0) return [];
      if (opts.portName && /^\d+$/.test(v))
        return [
          {
            message: `invalid value ${describeValue(v)}: must be ${allowed} (write the number without quotes)`,
          },
        ];
      return [{ message: `invalid value ${describeValue(v)}: must be ${allowed}` }];
    }
    return [{ message: `must be ${allowed}, not ${describeValue(v)}` }];
  });
}

/** A list of strings, each checked by `errors` (e.g. finalizers as qualified names). */
export function EachString(what: string, errors: (s: string) => string[] = () => []): PropertyDecorator {
  return Rule('stringList', (v) => {
    if (!Array.isArray(v)) return [{ message: `must be a list of strings, not ${describeValue(v)}` }];
    return v.flatMap((item, i) => {
      if (typeof item !== 'string')
        return [{ sub: `[${i}]`, message: `must be ${what} (a string), not ${describeValue(item)}` }];
      const errs = errors(item);
      return errs.length
        ? [{ sub: `[${i}]`, message: `invalid value ${describeValue(item)}: ${errs.join('; ')}` }]
        : [];
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Maps

function mapRule(
  name: string,
  what: string,
  check: (key: string, value: unknown) => string[],
  whole?: (m: Record<string, unknown>) => Problem[],
): PropertyDecorator {
  return Rule(name, (v) => {
    if (v === null || v === undefined) return [];
    if (!isPlainObject(v)) return [{ message: `must be ${what} (a mapping), not ${describeValue(v)}` }];
    const problems: Problem[] = [];
    for (const [k, val] of Object.entries(v)) {
      for (const msg of check(k, val)) problems.push({ sub: `[${k}]`, message: msg });
    }
    if (whole) problems.push(...whole(v));
    return problems;
  });
}

function stringValue(value: unknown): string[] {
  return typeof value === 'string'
    ? []
    : [`must be a string, not ${describeValue(value)} (quote it in YAML)`];
}

/** Labels: qualified-name keys, label values (≤63, alphanumeric with '-', '_', '.'). */
export function IsLabelMap(): PropertyDecorator {
  return applyDecorators(
    IsOptional(),
    mapRule('labelMap', 'a map of labels', (k, v) => {
      const errs = qualifiedNameErrors(k).map((e) => `invalid label key "${k}": ${e}`);
      const t = stringValue(v);
      if (t.length) return errs.concat(t);
      return errs.concat(
        labelValueErrors(v as string).map((e) => `invalid label value ${describeValue(v)}: ${e}`),
      );
    }),
  );
}

export const ANNOTATIONS_MAX_BYTES = 256 * 1024;

/** Annotations: qualified-name keys, string values, 256 KiB in total. */
export function IsAnnotationMap(): PropertyDecorator {
  return applyDecorators(
    IsOptional(),
    mapRule(
      'annotationMap',
      'a map of annotations',
      (k, v) =>
        qualifiedNameErrors(k.toLowerCase())
          .map((e) => `invalid annotation key "${k}": ${e}`)
          .concat(stringValue(v)),
      (m) => {
        let size = 0;
        for (const [k, v] of Object.entries(m)) size += k.length + (typeof v === 'string' ? v.length : 0);
        return size > ANNOTATIONS_MAX_BYTES
          ? [
              {
                message: `annotations are too long: ${size} bytes, must have at most ${ANNOTATIONS_MAX_BYTES} bytes`,
              },
            ]
          : [];
      },
    ),
  );
}

/** A map of strings with any keys (nodeSelector, stringData values are checked elsewhere). */
export function IsStringMap(keyCheck?: (k: string) => string[]): PropertyDecorator {
  return applyDecorators(
    IsOptional(),
    mapRule('stringMap', 'a map of strings', (k, v) =>
      (keyCheck ? keyCheck(k).map((e) => `invalid key "${k}": ${e}`) : []).concat(stringValue(v)),
    ),
  );
}

/** Resource amounts: resource-name keys (cpu, memory, example.com/gpu) with quantity values. */
export function IsQuantityMap(): PropertyDecorator {
  return applyDecorators(
    IsOptional(),
    mapRule('quantityMap', 'a map of resource quantities', (k, v) => {
      const errs = qualifiedNameErrors(k).map((e) => `invalid resource name "${k}": ${e}`);
      if (!isValidQuantity(v)) errs.push(`invalid value ${describeValue(v)}: must be ${QUANTITY_HELP}`);
      return errs;
    }),
  );
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isBase64(s: string): boolean {
  return BASE64.test(s);
}

/** Secret `data` and ConfigMap `binaryData`: config-key keys, base64 values. */
export function IsBase64Map(): PropertyDecorator {
  return applyDecorators(
    IsOptional(),
    mapRule('base64Map', 'a map of base64 values', (k, v) => {
      const errs = configMapKeyErrors(k).map((e) => `invalid key "${k}": ${e}`);
      if (typeof v !== 'string') errs.push(`must be a base64-encoded string, not ${describeValue(v)}`);
      else if (!isBase64(v.replace(/\s+/g, '')))
        errs.push(
          'must be base64-encoded (standard alphabet with padding); put plain text under stringData instead',
        );
      return errs;
    }),
  );
}

/** ConfigMap `data` and Secret `stringData`: config-key keys, string values. */
export function IsConfigDataMap(): PropertyDecorator {
  return IsStringMap(configMapKeyErrors);
}
