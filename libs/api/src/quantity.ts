/**
 * Kubernetes resource quantities (`100m`, `0.5`, `128Mi`, `1G`, `1e3`) as plain numbers: CPU in
 * cores (a float), memory and storage in bytes.
 */
import { ApiError } from './errors';

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

export const QUANTITY_HELP =
  'a quantity such as 100m, 0.5, 2, 128Mi, 1Gi, 1G or 1e3 (a non-negative number with an optional ' +
  'suffix n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent e<N>)';

/** Parses a quantity; throws ApiError BadRequest when it is not one. Negative values parse. */
export function parseQuantity(q: string | number): number {
  const v = tryParseQuantity(q);
  if (v === undefined)
    throw new ApiError('BadRequest', `invalid quantity ${JSON.stringify(q)}: must be ${QUANTITY_HELP}`);
  return v;
}

/** Like parseQuantity but returns undefined instead of throwing. */
export function tryParseQuantity(q: string | number): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) ? q : undefined;
  if (typeof q !== 'string') return undefined;
  const m = QUANTITY.exec(q.trim() === q ? q : '');
  if (!m) return undefined;
  const n = Number(m[1]);
  const suffix = m[2] ?? '';
  let v: number;
  if (suffix in BINARY) v = n * BINARY[suffix];
  else if (suffix in DECIMAL) v = scale(n, DECIMAL[suffix]);
  else v = scale(n, Number(suffix.slice(1)));
  return Number.isFinite(v) ? v : undefined;
}

/** n * 10^e, computed so that `100m` is exactly 0.1 (not 0.1000000001). */
function scale(n: number, e: number): number {
  if (e === 0) return n;
  return e > 0 ? n * 10 ** e : n / 10 ** -e;
}

/** True for a non-negative quantity (what resource requests and limits allow). */
export function isValidQuantity(q: unknown, opts: { allowNegative?: boolean } = {}): boolean {
  if (typeof q !== 'string' && typeof q !== 'number') return false;
  const v = tryParseQuantity(q);
  return v !== undefined && (opts.allowNegative || v >= 0);
}

function nearInteger(x: number): number | undefined {
  const r = Math.round(x);
  return Math.abs(x - r) <= 1e-9 * Math.max(1, Math.abs(x)) ? r : undefined;
}

/**
 * Canonical text for a value, as Kubernetes prints quantities: 'BinarySI' uses Ki…Ei when the
 * value is a whole multiple (`134217728` → `128Mi`); 'DecimalSI' the largest of k…E, or m/u/n for
 * fractions (`0.1` → `100m`, `2000` → `2k`).
 */
export function formatQuantity(value: number, format: 'DecimalSI' | 'BinarySI' = 'DecimalSI'): string {
  if (!Number.isFinite(value)) throw new ApiError('BadRequest', `cannot format ${value} as a quantity`);
  if (value === 0) return '0';
  if (format === 'BinarySI' && Number.isInteger(value)) {
    for (const s of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki']) {
      const r = value / BINARY[s];
      if (Number.isInteger(r) && Math.abs(r) >= 1) return `${r}${s}`;
    }
    return String(value);
  }
  for (const s of ['E', 'P', 'T', 'G', 'M', 'k', '', 'm', 'u', 'n']) {
    const r = nearInteger(scale(value, -DECIMAL[s]));
    if (r !== undefined && r !== 0) return `${r}${s}`;
  }
  // Finer than a nano: round up to the nearest nano, as Kubernetes does.
  return `${Math.ceil(value * 1e9)}n`;
}
