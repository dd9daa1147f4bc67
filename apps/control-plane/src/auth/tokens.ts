import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Reads the bearer tokens (one per line, blank lines and #comments ignored). When `file` is not
 * given, DATA_DIR/admin.token is used and created with 32 random bytes (hex, mode 0600) if missing.
 */
export function loadTokens(file: string | undefined, dataDir: string): string[] {
  const p = file ?? path.join(dataDir, 'admin.token');
  if (!file && !existsSync(p)) {
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(p, 0o600);
  }
  const tokens = readFileSync(p, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (!tokens.length) throw new Error(`token file ${p} holds no token`);
  return tokens;
}

/** Constant-time membership test (hashing first makes lengths equal). */
export function tokenMatches(candidate: string, tokens: readonly string[]): boolean {
  const c = createHash('sha256').update(candidate).digest();
  let ok = false;
  for (const t of tokens) {
    const h = createHash('sha256').update(t).digest();
    if (timingSafeEqual(c, h)) ok = true;
  }
  return ok;
}

/** The token in an `Authorization: Bearer T` header, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}
