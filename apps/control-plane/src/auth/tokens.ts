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

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/** The configured tokens' hashes, computed once per token list (recomputed if the list changes). */
const tokenHashes = new WeakMap<readonly string[], { key: string; hashes: Buffer[] }>();

/** Constant-time membership test (hashing first makes lengths equal). */
export function tokenMatches(candidate: string, tokens: readonly string[]): boolean {
  const key = tokens.join('\n');
  let cached = tokenHashes.get(tokens);
  if (cached?.key !== key) {
    cached = { key, hashes: tokens.map(sha256) };
    tokenHashes.set(tokens, cached);
  }
  const c = sha256(candidate);
  let ok = false;
  for (const h of cached.hashes) if (timingSafeEqual(c, h)) ok = true;
  return ok;
}

/** The token in an `Authorization: Bearer T` header, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

/** Requests (their raw IncomingMessage) whose bearer token authenticate() already accepted. */
const authenticated = new WeakSet<object>();

export function markAuthenticated(req: { raw?: object }): void {
  if (req.raw) authenticated.add(req.raw);
}

/** Whether authenticate() accepted this request's token (the AuthGuard need not check again). */
export function isAuthenticated(req: { raw?: object }): boolean {
  return !!req.raw && authenticated.has(req.raw);
}
