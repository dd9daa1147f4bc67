import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import {
  decodeProblems,
  encodeProblems,
  IsDns1123Label,
  IsImageReference,
  IsIntOrString,
  IsLabelMap,
  IsQuantity,
  Nested,
  RequiredString,
} from './validation';

// The composed decorators work on any class, e.g. flags validated at boot (STYLE 7).
class Limits {
  @IsQuantity() memory!: string;
}
class Flags {
  @IsDns1123Label() @RequiredString() nodeName!: string;
  @IsImageReference() pauseImage!: string;
  @IsIntOrString({ min: 1, max: 65535, portName: true }) port!: number | string;
  @IsLabelMap() labels?: Record<string, string>;
  @Nested(() => Limits, true) limits!: Limits;
}

function problems(plain: object): Record<string, string> {
  const errs = validateSync(plainToInstance(Flags, plain), {
    whitelist: true,
    forbidNonWhitelisted: true,
    stopAtFirstError: true,
  });
  const out: Record<string, string> = {};
  const walk = (es: typeof errs, base: string) => {
    for (const e of es) {
      const p = base ? `${base}.${e.property}` : e.property;
      for (const m of Object.values(e.constraints ?? {}))
        for (const d of decodeProblems(m)) out[p + (d.sub ?? '')] = d.message;
      walk(e.children ?? [], p);
    }
  };
  walk(errs, '');
  return out;
}

test('composed decorators accept good values', () => {
  assert.deepEqual(
    problems({
      nodeName: 'node-1',
      pauseImage: 'registry.local:5000/pause:3.9',
      port: 'http',
      labels: { a: 'b' },
      limits: { memory: '64Mi' },
    }),
    {},
  );
  assert.deepEqual(
    problems({ nodeName: 'n', pauseImage: 'pause', port: 8080, limits: { memory: 1024 } }),
    {},
  );
});

test('composed decorators say what is allowed', () => {
  const p = problems({
    nodeName: 'Node_1',
    pauseImage: 'UPPER:tag',
    port: 70000,
    labels: { 'a b': 'c' },
    limits: { memory: 'lots' },
    extra: 1,
  });
  assert.match(p.nodeName, /RFC 1123 label/);
  assert.match(p.pauseImage, /repository name .* must be lowercase/);
  assert.match(p.port, /between 1 and 65535.*or a port name/);
  assert.match(p['labels[a b]'], /invalid label key "a b"/);
  assert.match(p['limits.memory'], /quantity such as 100m/);
  assert.match(p.extra, /should not exist/);
  assert.match(
    problems({ pauseImage: 'x', port: 1, limits: {} }).nodeName,
    /should not be null or undefined/,
  );
  assert.match(problems({ nodeName: 'n', pauseImage: 'x', port: 1, limits: [] }).limits, /must be an object/);
});

test('problem encoding round-trips sub-paths', () => {
  const list = [{ message: 'plain' }, { sub: '[k]', message: 'keyed' }];
  assert.deepEqual(decodeProblems(encodeProblems(list)), list);
});
