import http from 'node:http';
import https from 'node:https';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Managed } from './process';
import { freePort } from './ports';
import { tempDir } from './tmp';

/**
 * Test harness for the Berth control plane (bin/berth-control-plane, built into dist/ first).
 *
 *   const cp = await startControlPlane({ redisUrl: redis.url });
 *   const k = api(cp.url, cp.token);
 *   const { status, body } = await k.post('/api/v1/namespaces/default/configmaps', cm);
 *   await cp.restart();   // same port, data dir and token
 *   await cp.stop();      // SIGTERM; removes the data dir if the harness made it
 *
 * Without redisUrl the control plane runs its embedded redis-server under dataDir.
 *
 * With `tls: true` it serves HTTPS with its generated CA (--tls): url is https://…, and
 * `api(cp.url, cp.token, { ca: cp.ca })` / `openWatch(…, { ca: cp.ca })` / kubectl's `caFile` trust it.
 */
export interface ControlPlaneOptions {
  /** External Redis (e.g. TestRedis.url); omit for embedded Redis under dataDir. */
  redisUrl?: string;
  /** Data dir; default a fresh temp dir that stop() removes. */
  dataDir?: string;
  /** Extra environment (e.g. BERTH_BOOKMARK_INTERVAL_MS). */
  env?: Record<string, string>;
  /** More flags after the harness's own (--data-dir, --port, --host, --redis-url, --log-format json). */
  extraArgs?: string[];
  /** How long to wait for the ready line (ms, default 30 s). */
  readyTimeoutMs?: number;
  /** Serve HTTPS with the control plane's generated CA (`--tls`). */
  tls?: boolean;
}

export interface ControlPlane {
  /** http://127.0.0.1:PORT, or https:// with tls */
  url: string;
  /** With tls (--tls): DATA_DIR/pki/ca.crt, the CA that signed the serving certificate, and its PEM. */
  caFile?: string;
  ca?: string;
  /** A bearer token the server accepts (its generated admin.token, or the first line of --token-file). */
  token: string;
  port: number;
  dataDir: string;
  /** The current process (replaced by restart()). */
  proc: Managed;
  /** SIGTERM and wait; removes the data dir when the harness created it. */
  stop(): Promise<void>;
  /** SIGKILL (a crash); keeps the data dir. */
  kill9(): Promise<void>;
  /** Stops (SIGTERM) if running, then starts again with the same flags (so the same port and data dir). */
  restart(): Promise<void>;
}

export const READY_LINE = /berth control plane listening on (https?:\/\/\S+):(\d+)\n/;

function repoRoot(): string {
  // dist/test/harness/control-plane.js or test/harness/control-plane.ts → repository root.
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'bin', 'berth-control-plane'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find bin/berth-control-plane above ' + __dirname);
    dir = up;
  }
  return dir;
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const owned = opts.dataDir ? undefined : tempDir('berth-cp-');
  const dataDir = opts.dataDir ?? owned!.path;
  const port = await freePort();
  const bin = path.join(repoRoot(), 'bin', 'berth-control-plane');
  const args = ['--data-dir', dataDir, '--port', String(port), '--host', '127.0.0.1', '--log-format', 'json'];
  if (opts.redisUrl) args.push('--redis-url', opts.redisUrl);
  if (opts.tls) args.push('--tls');
  args.push(...(opts.extraArgs ?? []));
  const tokenFlag = args.lastIndexOf('--token-file');
  const tokenFile = tokenFlag >= 0 ? args[tokenFlag + 1] : path.join(dataDir, 'admin.token');

  // The ready line is the truth about the address (extraArgs may say --port 0).
  const launch = async (): Promise<{ proc: Managed; url: string; port: number }> => {
    const proc = new Managed('berth-control-plane', bin, args, { env: { ...process.env, ...opts.env } });
    try {
      const m = await proc.waitForOutput(READY_LINE, opts.readyTimeoutMs ?? 30_000);
      return { proc, url: `${m[1]}:${m[2]}`, port: Number(m[2]) };
    } catch (e) {
      await proc.kill9();
      throw e;
    }
  };

  let first: Awaited<ReturnType<typeof launch>>;
  try {
    first = await launch();
  } catch (e) {
    owned?.remove();
    throw e;
  }
  const self: ControlPlane = {
    url: first.url,
    token: '',
    port: first.port,
    dataDir,
    proc: first.proc,
    async stop() {
      await self.proc.stop(15_000);
      owned?.remove();
    },
    async kill9() {
      await self.proc.kill9();
    },
    async restart() {
      await self.proc.stop(15_000);
      const next = await launch();
      Object.assign(self, next);
    },
  };
  // --tls (auto): the generated CA; with --tls-cert-file the caller knows its own CA.
  const generatedCa = path.join(dataDir, 'pki', 'ca.crt');
  if (first.url.startsWith('https:') && existsSync(generatedCa)) {
    self.caFile = generatedCa;
    self.ca = readFileSync(generatedCa, 'utf8');
  }
  self.token = readFileSync(tokenFile, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith('#'))!;
  return self;
}

export interface ApiResponse<T = any> {
  status: number;
  /** Parsed JSON, or the text when the body is not JSON. */
  body: T;
  headers: Headers;
}

export interface RequestOptions {
  /** Content-Type (default application/json when a body is sent). */
  contentType?: string;
  headers?: Record<string, string>;
}

export interface ApiCaller {
  (method: string, path: string, body?: unknown, opts?: RequestOptions): Promise<ApiResponse>;
  get(path: string): Promise<ApiResponse>;
  post(path: string, body: unknown, opts?: RequestOptions): Promise<ApiResponse>;
  put(path: string, body: unknown, opts?: RequestOptions): Promise<ApiResponse>;
  /** Default Content-Type application/merge-patch+json. */
  patch(path: string, body: unknown, contentType?: string): Promise<ApiResponse>;
  delete(path: string, body?: unknown): Promise<ApiResponse>;
}

export interface ConnectOptions {
  /** For an https url: the CA (PEM) to trust; the server's certificate is verified against it. */
  ca?: string | Buffer;
}

/** One https request through node:https (fetch cannot be given a CA without undici's Agent). */
function httpsFetch(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string | Buffer },
  ca: string | Buffer | undefined,
): Promise<{ status: number; headers: Headers; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: init.method, headers: init.headers, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers))
          for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) headers.append(k, one);
        resolve({ status: res.statusCode ?? 0, headers, text: Buffer.concat(chunks).toString() });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/**
 * A tiny fetch helper: `api(url, token)('GET', '/api/v1/namespaces')` → { status, body }. A string
 * or Buffer body is sent as is; anything else as JSON. token '' sends no Authorization header.
 * An https url is verified against `opts.ca` (else the system's CAs).
 */
export function api(url: string, token: string, opts: ConnectOptions = {}): ApiCaller {
  const call = async (
    method: string,
    p: string,
    body?: unknown,
    ro: RequestOptions = {},
  ): Promise<ApiResponse> => {
    const headers: Record<string, string> = { ...ro.headers };
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: string | Buffer | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      headers['content-type'] = ro.contentType ?? 'application/json';
    }
    let res: { status: number; headers: Headers };
    let text: string;
    if (url.startsWith('https:')) {
      const r = await httpsFetch(url + p, { method, headers, body: payload }, opts.ca);
      res = r;
      text = r.text;
    } else {
      const r = await fetch(url + p, { method, headers, body: payload });
      res = r;
      text = await r.text();
    }
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
  return Object.assign(call, {
    get: (p: string) => call('GET', p),
    post: (p: string, b: unknown, o?: RequestOptions) => call('POST', p, b, o),
    put: (p: string, b: unknown, o?: RequestOptions) => call('PUT', p, b, o),
    patch: (p: string, b: unknown, contentType = 'application/merge-patch+json') =>
      call('PATCH', p, b, { contentType }),
    delete: (p: string, b?: unknown) => call('DELETE', p, b),
  });
}

/** Awaits an API call and returns its body; any status outside 2xx fails with `what`, the status and the body. */
export async function ok(res: Promise<ApiResponse>, what: string): Promise<any> {
  const r = await res;
  if (r.status < 200 || r.status >= 300)
    throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export interface WatchEventLine {
  type: string;
  object: any;
}

export interface OpenWatch {
  status: number;
  /** Every event received so far, in order. */
  events: WatchEventLine[];
  /** The next event not yet returned by next(); undefined if none arrives within timeoutMs or the stream ended. */
  next(timeoutMs?: number): Promise<WatchEventLine | undefined>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens `path` (add ?watch=true yourself) and parses newline-delimited watch events as they arrive. */
export function openWatch(
  url: string,
  token: string,
  p: string,
  opts: ConnectOptions = {},
): Promise<OpenWatch> {
  return new Promise((resolve, reject) => {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const get = (cb: (res: http.IncomingMessage) => void): http.ClientRequest =>
      url.startsWith('https:')
        ? https.get(url + p, { headers, ca: opts.ca }, cb)
        : http.get(url + p, { headers }, cb);
    const req = get((res) => {
      const events: WatchEventLine[] = [];
      let cursor = 0;
      let buf = '';
      let waiter: (() => void) | undefined;
      let done = false;
      const ended = new Promise<void>((r) => {
        const finish = (): void => {
          done = true;
          waiter?.();
          r();
        };
        res.once('end', finish);
        res.once('close', finish);
        res.once('error', finish);
      });
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (line) events.push(JSON.parse(line));
        }
        waiter?.();
      });
      resolve({
        status: res.statusCode ?? 0,
        events,
        ended,
        async next(timeoutMs = 10_000) {
          const deadline = Date.now() + timeoutMs;
          while (cursor >= events.length && !done && Date.now() < deadline) {
            await new Promise<void>((r) => {
              const t = setTimeout(r, Math.max(1, deadline - Date.now()));
              waiter = () => {
                clearTimeout(t);
                r();
              };
            });
            waiter = undefined;
          }
          return cursor < events.length ? events[cursor++] : undefined;
        },
        close() {
          req.destroy();
          res.destroy();
        },
      });
    });
    req.once('error', reject);
  });
}
