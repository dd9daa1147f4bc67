import http from 'node:http';
import https from 'node:https';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { parseWwwAuthenticate, pullScope, type AuthChallenge } from './auth';
import { NotFoundError, OciError, RegistryError, UnauthorizedError } from './errors';
import { RegistryHosts, type Credentials, type RegistryEndpoint } from './hosts';
import { MANIFEST_ACCEPT } from './manifest';
import { formatReference, type ImageReference } from './reference';

export interface RegistryClientOptions {
  hosts?: RegistryHosts;
  /** Attempts per request on 5xx / 429 / broken connections (default 4). */
  attempts?: number;
  /** First retry delay, doubled each attempt (default 200 ms). */
  backoffMs?: number;
  /** Idle socket timeout (default 60 s). */
  timeoutMs?: number;
  userAgent?: string;
  log?: (msg: string) => void;
}

export interface RequestOptions {
  /** Credentials for this pull (win over the configured ones). */
  credentials?: Credentials;
  signal?: AbortSignal;
}

export interface FetchedManifest {
  body: Buffer;
  contentType: string;
  /** sha256 of the body as received (always computed here). */
  digest: string;
  endpoint: RegistryEndpoint;
}

export interface BlobResponse {
  stream: Readable;
  /** Content-Length when the registry sent one. */
  size?: number;
  endpoint: RegistryEndpoint;
}

interface CachedAuth {
  header: string;
  expiresAt: number;
}

const agentOpts = { keepAlive: true, maxSockets: 32 };
const httpAgent = new http.Agent(agentOpts);
const httpsAgent = new https.Agent(agentOpts);

/** A response whose body has not been read yet. */
interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  url: string;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason ?? new Error('aborted'));
      },
      { once: true },
    );
  });
}

async function readAll(s: Readable, limit = 16 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of s) {
    n += (c as Buffer).length;
    if (n > limit) {
      s.destroy();
      throw new RegistryError(`response body larger than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The message of a distribution error body `{errors:[{code,message}]}`, or the start of the text. */
function errorText(body: Buffer): string {
  try {
    const doc = JSON.parse(body.toString()) as { errors?: { code?: string; message?: string }[] };
    if (Array.isArray(doc.errors) && doc.errors.length)
      return doc.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
  } catch {
    /* not JSON */
  }
  return body.toString().slice(0, 200).trim();
}

/**
 * A client of the OCI distribution API (pull side): `/v2/` ping, manifests by tag or digest and
 * blobs as streams. Anonymous, Basic and Bearer-token auth (tokens cached per endpoint and scope;
 * a 401 is retried once with fresh auth); bounded retries with exponential backoff on 5xx, 429
 * and broken connections; redirects followed (blob storage backends redirect to signed URLs);
 * mirrors tried before the origin.
 */
export class RegistryClient {
  readonly hosts: RegistryHosts;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private readonly log: (msg: string) => void;
  private readonly authCache = new Map<string, CachedAuth>();

  constructor(opts: RegistryClientOptions = {}) {
    this.hosts = opts.hosts ?? new RegistryHosts();
    this.attempts = Math.max(1, opts.attempts ?? 4);
    this.backoffMs = opts.backoffMs ?? 200;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.userAgent = opts.userAgent ?? 'berth/0.1';
    this.log = opts.log ?? (() => undefined);
  }

  /** GET /v2/ on the registry's first endpoint; resolves when it answers 200 (or 401: it speaks the API). */
  async ping(
    domain: string,
    opts: RequestOptions = {},
  ): Promise<{ status: number; challenges: AuthChallenge[] }> {
    const ep = this.hosts.endpoints(domain)[0];
    const res = await this.send('GET', `${ep.url}/v2/`, {}, opts.signal);
    await readAll(res.body).catch(() => undefined);
    if (res.status !== 200 && res.status !== 401)
      throw new RegistryError(
        `registry ${ep.url} answered ${res.status} to GET /v2/`,
        res.status,
        res.status >= 500,
      );
    return {
      status: res.status,
      challenges: parseWwwAuthenticate(String(res.headers['www-authenticate'] ?? '')),
    };
  }

  /** Fetches a manifest or index by tag or digest (defaults to the reference's digest, else its tag). */
  async getManifest(
    ref: ImageReference,
    opts: RequestOptions & { reference?: string } = {},
  ): Promise<FetchedManifest> {
    const tagOrDigest = opts.reference ?? ref.digest ?? ref.tag ?? 'latest';
    const { res, endpoint } = await this.requestWithMirrors(
      ref,
      `/manifests/${tagOrDigest}`,
      { accept: MANIFEST_ACCEPT },
      opts,
      `manifest ${tagOrDigest}`,
    );
    const body = await readAll(res.body);
    return {
      body,
      contentType: String(res.headers['content-type'] ?? ''),
      digest: `sha256:${createHash('sha256').update(body).digest('hex')}`,
      endpoint,
    };
  }

  /** Opens a blob as a stream (the caller verifies its digest while reading it). */
  async getBlob(ref: ImageReference, digest: string, opts: RequestOptions = {}): Promise<BlobResponse> {
    const { res, endpoint } = await this.requestWithMirrors(
      ref,
      `/blobs/${digest}`,
      {},
      opts,
      `blob ${digest}`,
    );
    const len = res.headers['content-length'];
    return { stream: res.body, size: len !== undefined ? Number(len) : undefined, endpoint };
  }

  private async requestWithMirrors(
    ref: ImageReference,
    suffix: string,
    headers: { accept?: string },
    opts: RequestOptions,
    what: string,
  ): Promise<{ res: RawResponse; endpoint: RegistryEndpoint }> {
    const endpoints = this.hosts.endpoints(ref.domain);
    let firstError: unknown;
    for (const ep of endpoints) {
      try {
        const res = await this.request(ep, ref, suffix, headers, opts, what);
        return { res, endpoint: ep };
      } catch (e) {
        if (!ep.mirror) {
          // The origin's answer is the one to report unless a mirror said something more useful.
          throw firstError instanceof OciError && !(e instanceof OciError) ? firstError : e;
        }
        this.log(
          `mirror ${ep.url} failed for ${formatReference(ref)} ${what}: ${(e as Error).message}; trying next`,
        );
        firstError ??= e;
      }
    }
    throw firstError;
  }

  /** One API request with auth, retries and redirects; returns a 200 response with its body unread. */
  private async request(
    ep: RegistryEndpoint,
    ref: ImageReference,
    suffix: string,
    headers: { accept?: string },
    opts: RequestOptions,
    what: string,
  ): Promise<RawResponse> {
    const scope = pullScope(ref.path);
    // Per-pull credentials belong to the image's registry: never hand them to a mirror.
    const creds = ep.mirror
      ? this.hosts.credentials(ep.host)
      : (opts.credentials ?? this.hosts.credentials(ep.host));
    const cacheKey = `${ep.url}|${scope}`;
    const url = `${ep.url}/v2/${ref.path}${suffix}`;
    const name = `${what} of ${formatReference(ref)}`;
    let authRetried = false;
    for (let attempt = 1; ; attempt++) {
      const h: Record<string, string> = {};
      if (headers.accept) h.accept = headers.accept;
      const cached = this.authCache.get(cacheKey);
      if (cached && cached.expiresAt > Date.now()) h.authorization = cached.header;
      let res: RawResponse;
      try {
        res = await this.sendFollowing('GET', url, h, opts.signal);
      } catch (e) {
        if (opts.signal?.aborted || attempt >= this.attempts) throw this.networkError(e, ep, name);
        const delay = this.backoffMs * 2 ** (attempt - 1);
        this.log(`${name}: ${(e as Error).message}; retry ${attempt} in ${delay} ms`);
        await sleep(delay, opts.signal);
        continue;
      }
      if (res.status === 200) return res;
      const body = await readAll(res.body).catch(() => Buffer.alloc(0));
      if (res.status === 401) {
        if (authRetried)
          throw new UnauthorizedError(
            `${name}: registry ${ep.url} refused ${creds ? `the credentials of user "${creds.username}"` : 'anonymous access (no credentials configured)'}: ${errorText(body)}`,
          );
        authRetried = true;
        const challenges = parseWwwAuthenticate(String(res.headers['www-authenticate'] ?? ''));
        const header = await this.authorize(ep, challenges, scope, creds, opts.signal, name);
        this.authCache.set(cacheKey, header);
        attempt--; // an auth round-trip is not a failed attempt
        continue;
      }
      if (res.status === 404)
        throw new NotFoundError(`${name} not found at ${ep.url}: ${errorText(body) || 'HTTP 404'}`);
      const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
      if (retryable && attempt < this.attempts) {
        const ra = Number(res.headers['retry-after']);
        const delay =
          Number.isFinite(ra) && ra > 0 ? Math.min(ra * 1000, 10_000) : this.backoffMs * 2 ** (attempt - 1);
        this.log(`${name}: HTTP ${res.status}; retry ${attempt} in ${delay} ms`);
        await sleep(delay, opts.signal);
        continue;
      }
      if (res.status === 403)
        throw new UnauthorizedError(
          `${name}: registry ${ep.url} denied access (HTTP 403): ${errorText(body)}`,
        );
      throw new RegistryError(
        `${name}: registry ${ep.url} answered HTTP ${res.status}${errorText(body) ? `: ${errorText(body)}` : ''}`,
        res.status,
        retryable,
      );
    }
  }

  private networkError(e: unknown, ep: RegistryEndpoint, name: string): Error {
    if (e instanceof OciError) return e;
    const err = e as NodeJS.ErrnoException;
    return new RegistryError(
      `${name}: cannot reach registry ${ep.url}: ${err.code ?? ''} ${err.message}`.trim(),
      undefined,
      true,
    );
  }

  private async authorize(
    ep: RegistryEndpoint,
    challenges: AuthChallenge[],
    scope: string,
    creds: Credentials | undefined,
    signal: AbortSignal | undefined,
    name: string,
  ): Promise<CachedAuth> {
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    const basicHeader = creds
      ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`
      : undefined;
    if (bearer) {
      const realm = bearer.params.realm;
      if (!realm)
        throw new UnauthorizedError(`${name}: registry ${ep.url} sent a Bearer challenge without realm`);
      const u = new URL(realm);
      if (bearer.params.service) u.searchParams.set('service', bearer.params.service);
      u.searchParams.set('scope', bearer.params.scope || scope);
      const h: Record<string, string> = {};
      if (basicHeader) h.authorization = basicHeader;
      let res: RawResponse | undefined;
      for (let attempt = 1; ; attempt++) {
        try {
          res = await this.sendFollowing('GET', u.toString(), h, signal);
          if (res.status >= 500 && attempt < this.attempts) {
            await readAll(res.body).catch(() => undefined);
            await sleep(this.backoffMs * 2 ** (attempt - 1), signal);
            continue;
          }
          break;
        } catch (e) {
          if (attempt >= this.attempts)
            throw this.networkError(e, { ...ep, url: u.origin }, `${name}: token`);
          await sleep(this.backoffMs * 2 ** (attempt - 1), signal);
        }
      }
      const body = await readAll(res.body);
      if (res.status === 401 || res.status === 403)
        throw new UnauthorizedError(
          `${name}: token server ${u.origin} refused ${creds ? `user "${creds.username}"` : 'anonymous access'} (HTTP ${res.status})`,
        );
      if (res.status !== 200)
        throw new RegistryError(
          `${name}: token server ${u.origin} answered HTTP ${res.status}: ${errorText(body)}`,
          res.status,
        );
      let doc: { token?: string; access_token?: string; expires_in?: number };
      try {
        doc = JSON.parse(body.toString()) as typeof doc;
      } catch {
        throw new RegistryError(`${name}: token server ${u.origin} sent a body that is not JSON`);
      }
      const token = doc.token ?? doc.access_token;
      if (!token) throw new RegistryError(`${name}: token server ${u.origin} sent no token`);
      const ttl = (typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60) * 1000;
      return { header: `Bearer ${token}`, expiresAt: Date.now() + Math.max(ttl - 10_000, ttl / 2) };
    }
    if (basic || challenges.length === 0) {
      if (!basicHeader)
        throw new UnauthorizedError(
          `${name}: registry ${ep.url} requires authentication and no credentials are configured for ${ep.host}`,
        );
      return { header: basicHeader, expiresAt: Number.MAX_SAFE_INTEGER };
    }
    throw new UnauthorizedError(
      `${name}: registry ${ep.url} asks for unsupported auth scheme(s) ${challenges.map((c) => c.scheme).join(', ')}`,
    );
  }

  /** Sends a request, following up to 5 redirects (Authorization is dropped when the origin changes). */
  private async sendFollowing(
    method: string,
    url: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<RawResponse> {
    let current = url;
    let h = headers;
    for (let hops = 0; hops <= 5; hops++) {
      const res = await this.send(method, current, h, signal);
      if (res.status >= 300 && res.status < 400 && res.status !== 304 && res.headers.location) {
        res.body.resume();
        const next = new URL(res.headers.location, current);
        if (next.origin !== new URL(current).origin) {
          h = { ...h };
          delete h.authorization;
        }
        current = next.toString();
        continue;
      }
      return res;
    }
    throw new RegistryError(`too many redirects from ${url}`);
  }

  private send(
    method: string,
    url: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const mod = u.protocol === 'https:' ? https : http;
      const req = mod.request(
        u,
        {
          method,
          headers: { 'user-agent': this.userAgent, ...headers },
          agent: u.protocol === 'https:' ? httpsAgent : httpAgent,
          signal,
        },
        (res) => {
          res.setTimeout(this.timeoutMs, () =>
            res.destroy(new Error(`no data from ${u.origin} for ${this.timeoutMs} ms`)),
          );
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url });
        },
      );
      req.setTimeout(this.timeoutMs, () =>
        req.destroy(new Error(`no answer from ${u.origin} in ${this.timeoutMs} ms`)),
      );
      req.on('error', reject);
      req.end();
    });
  }
}
