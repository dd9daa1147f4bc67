import http from 'node:http';
import https from 'node:https';
import { ApiError, reasonForCode, type Status } from '@berth/api';

/** Query parameters; undefined, '' and false values are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  method: string;
  path: string;
  query?: Query;
  /** A JSON-serialisable value, or raw bytes/text sent as they are. */
  body?: unknown;
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
  /** Whole-request deadline for buffered requests; for streams only until the headers arrive. 0 = none. */
  timeoutMs?: number;
  /**
   * The connection pool; for an https server an https.Agent carrying the CA to trust (see
   * BerthClient's `ca`). Default: Node's global agents (and so the system's CAs).
   */
  agent?: http.Agent;
  /** Sent as User-Agent; the server names the field manager of writes after it (up to its first "/"). */
  userAgent?: string;
}

export interface BufferedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** The API server could not be reached at all (refused, reset, DNS, timeout before an answer). */
export class ConnectionError extends Error {
  constructor(
    readonly server: string,
    readonly causeCode: string,
    detail?: string,
  ) {
    super(
      `cannot reach the Berth API server at ${server}: ${causeCode}` +
        (detail ? ` (${detail})` : '') +
        (causeCode === 'ECONNREFUSED' ? ' (is it running? start one with `berthctl up`)' : ''),
    );
    this.name = 'ConnectionError';
  }
}

/**
 * OpenSSL's codes for a server certificate the client does not accept (Node puts them on the
 * socket error's `code`), with what each means for a Berth user.
 */
const CERT_PROBLEMS: Record<string, string> = {
  SELF_SIGNED_CERT_IN_CHAIN: 'it is signed by a certificate authority this client does not trust',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it is self-signed and this client does not trust it',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'it is signed by a certificate authority this client does not trust',
  UNABLE_TO_GET_ISSUER_CERT: 'it is signed by a certificate authority this client does not trust',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'it is signed by a certificate authority this client does not trust',
  CERT_SIGNATURE_FAILURE: 'its signature does not verify against the trusted certificate authority',
  CERT_HAS_EXPIRED: 'it has expired',
  CERT_NOT_YET_VALID: 'it is not valid yet (check the clocks)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'it is not issued for this host name or address',
};

/** Whether a ConnectionError's causeCode says the server's certificate was not accepted. */
export function isCertificateProblem(code: string): boolean {
  return code in CERT_PROBLEMS;
}

/** The ConnectionError of a failed request, with what a TLS failure means, or undefined when it is not a network failure. */
export function connectionError(server: string, e: NodeJS.ErrnoException): ConnectionError | undefined {
  const code = e.code;
  if (!code) return undefined;
  if (isCertificateProblem(code))
    return new ConnectionError(
      server,
      code,
      `the server's TLS certificate was refused: ${CERT_PROBLEMS[code]}; give the client the CA that ` +
        'signed it (a Berth control plane started with --tls keeps it in DATA_DIR/pki/ca.crt)',
    );
  if (code === 'EPROTO' && server.startsWith('https:'))
    return new ConnectionError(
      server,
      code,
      'no TLS answer: does the server serve plain HTTP? then use http://',
    );
  if (/^E[A-Z]+$/.test(code)) return new ConnectionError(server, code);
  return undefined;
}

/** A buffered request did not complete within its deadline. */
export class RequestTimeoutError extends Error {
  constructor(
    readonly server: string,
    readonly timeoutMs: number,
  ) {
    super(`the request to ${server} did not complete within ${timeoutMs} ms (raise --request-timeout)`);
    this.name = 'RequestTimeoutError';
  }
}

export function isStatus(v: unknown): v is Status {
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as { kind?: unknown }).kind === 'Status' &&
    typeof (v as { message?: unknown }).message === 'string'
  );
}

/** Turns a non-2xx answer into an ApiError: the server's Status when it sent one, else one made from the code. */
export function errorFromResponse(status: number, body: Buffer | string): ApiError {
  const text = body.toString();
  try {
    const parsed: unknown = JSON.parse(text);
    if (isStatus(parsed)) {
      const err = ApiError.fromStatus(parsed);
      // Keep the HTTP code when the Status has an unusual reason/code pair.
      if (parsed.code && parsed.code !== err.code) (err as { code: number }).code = parsed.code;
      return err;
    }
  } catch {
    // not JSON: fall through
  }
  const reason = reasonForCode(status) ?? (status >= 500 ? 'InternalError' : 'BadRequest');
  const err = new ApiError(reason, text.trim().slice(0, 500) || `the server answered HTTP ${status}`);
  (err as { code: number }).code = status;
  return err;
}

export function buildUrl(server: string, path: string, query?: Query): URL {
  const base = server.endsWith('/') ? server.slice(0, -1) : server;
  const url = new URL(base + path);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined || v === '' || v === false) continue;
    url.searchParams.set(k, String(v));
  }
  return url;
}

function encodeBody(body: unknown): Buffer | undefined {
  if (body === undefined) return undefined;
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body);
  return Buffer.from(JSON.stringify(body));
}

/**
 * Sends one request and resolves with the response once its headers are in (the body not yet read).
 * Network failures become ConnectionError; an abort rejects with the signal's reason.
 */
export function send(
  server: string,
  token: string | undefined,
  opts: RequestOptions,
): Promise<{ res: http.IncomingMessage; req: http.ClientRequest }> {
  const url = buildUrl(server, opts.path, opts.query);
  const body = encodeBody(opts.body);
  const headers: http.OutgoingHttpHeaders = { Accept: opts.accept ?? 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (opts.userAgent) headers['User-Agent'] = opts.userAgent;
  if (body) {
    headers['Content-Type'] = opts.contentType ?? 'application/json';
    headers['Content-Length'] = body.length;
  }
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(opts.signal.reason ?? new Error('aborted'));
      return;
    }
    const req = mod.request(url, { method: opts.method, headers, signal: opts.signal, agent: opts.agent });
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs && opts.timeoutMs > 0) {
      timer = setTimeout(() => req.destroy(new RequestTimeoutError(server, opts.timeoutMs!)), opts.timeoutMs);
    }
    req.once('response', (res) => {
      if (timer) clearTimeout(timer);
      resolve({ res, req });
    });
    req.once('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      if (opts.signal?.aborted) reject(opts.signal.reason ?? e);
      else if (e instanceof RequestTimeoutError) reject(e);
      else reject(connectionError(server, e) ?? e);
    });
    req.end(body);
  });
}

/** Sends one request and reads the whole answer. */
export async function request(
  server: string,
  token: string | undefined,
  opts: RequestOptions,
): Promise<BufferedResponse> {
  const started = Date.now();
  const { res, req } = await send(server, token, opts);
  const remaining = opts.timeoutMs ? Math.max(1, opts.timeoutMs - (Date.now() - started)) : 0;
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  if (remaining)
    timer = setTimeout(() => {
      timedOut = true;
      req.destroy(new RequestTimeoutError(server, opts.timeoutMs!));
    }, remaining);
  try {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
  } catch (e) {
    if (timedOut || e instanceof RequestTimeoutError) throw new RequestTimeoutError(server, opts.timeoutMs!);
    const code = (e as NodeJS.ErrnoException).code;
    if (opts.signal?.aborted) throw opts.signal.reason ?? e;
    throw new ConnectionError(server, code ?? 'ECONNRESET', (e as Error).message);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
