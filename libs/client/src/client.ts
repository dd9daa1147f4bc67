import { readFileSync } from 'node:fs';
import https from 'node:https';
import { PassThrough, type Readable } from 'node:stream';
import {
  ApiError,
  apiVersionOf,
  kindFor,
  resourcePath,
  type KindInfo,
  type KubeList,
  type KubeObject,
  type WatchEvent,
} from '@berth/api';
import { errorFromResponse, isStatus, request, send, type Query, type RequestOptions } from './http';
import { readLines } from './ndjson';
import { ConfigError } from './config';

export interface ClientOptions {
  /** Base URL of the API server, e.g. http://127.0.0.1:6443 or https://127.0.0.1:6443 */
  server: string;
  token?: string;
  /** Deadline of each non-streaming request; default 30 s, 0 = none. */
  timeoutMs?: number;
  /**
   * For an https server: the CA certificate(s) to trust instead of the system's, as PEM text or
   * bytes, or the path of a PEM file (read once, here). The server's certificate is always
   * verified against it, host name included.
   */
  ca?: string | Buffer;
  /** User-Agent of every request (default `berth-client`): writes without a fieldManager are recorded under its name. */
  userAgent?: string;
}

/** The PEM bytes of a ClientOptions.ca: PEM given as is, anything else read as a file. */
export function readCa(ca: string | Buffer): Buffer {
  if (Buffer.isBuffer(ca)) return ca;
  if (ca.includes('-----BEGIN ')) return Buffer.from(ca);
  try {
    return readFileSync(ca);
  } catch (e) {
    throw new ConfigError(
      `cannot read the CA file ${ca}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

export interface ListOptions {
  /** Omit for all namespaces (or for cluster-scoped kinds). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

export interface WatchOptions {
  namespace?: string;
  /** Start after this version; omit (or '0') for "now", with ADDED events for what exists. */
  resourceVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  allowBookmarks?: boolean;
}

export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
}

export interface ApplyOptions {
  /** Default 'berthctl'. */
  fieldManager?: string;
  dryRun?: boolean;
  /** Take over fields owned by other managers. */
  force?: boolean;
}

export type PropagationPolicy = 'Foreground' | 'Background' | 'Orphan';

export interface DeleteOptions {
  propagationPolicy?: PropagationPolicy;
  dryRun?: boolean;
  /** Seconds the object (a pod) gets to stop; sent as gracePeriodSeconds. */
  gracePeriodSeconds?: number;
}

export type PatchType = 'merge' | 'json' | 'strategic';

export interface LogOptions {
  container?: string;
  follow?: boolean;
  previous?: boolean;
  tailLines?: number;
}

export interface Scale {
  apiVersion: string;
  kind: 'Scale';
  metadata: KubeObject['metadata'];
  spec: { replicas?: number };
  status?: { replicas?: number; selector?: string };
}

const PATCH_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

/** The KindInfo of an object from its apiVersion and kind, or a BadRequest ApiError. */
export function kindOf(obj: KubeObject): KindInfo {
  const k = kindFor(obj.apiVersion, obj.kind);
  if (!k) throw new ApiError('BadRequest', `no kind "${obj.kind}" is served in version "${obj.apiVersion}"`);
  return k;
}

/**
 * A typed client of the Berth (Kubernetes-shaped) REST API. No framework dependency: used by the
 * CLI, the agent and the sync controller. Every non-2xx answer is thrown as ApiError; an
 * unreachable server as ConnectionError.
 */
export class BerthClient {
  readonly server: string;
  readonly token?: string;
  readonly timeoutMs: number;
  readonly userAgent: string;
  /** With an https server and a CA: one keep-alive pool trusting that CA (connections and TLS sessions reused). */
  private readonly agent?: https.Agent;

  constructor(opts: ClientOptions) {
    this.server = opts.server.replace(/\/+$/, '');
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.userAgent = opts.userAgent ?? 'berth-client';
    if (opts.ca !== undefined && this.server.startsWith('https:'))
      this.agent = new https.Agent({ keepAlive: true, ca: readCa(opts.ca) });
  }

  /** Closes the idle keep-alive connections of this client's own pool (if it has one). */
  close(): void {
    this.agent?.destroy();
  }

  /** One request; returns the parsed JSON answer (undefined for an empty body). */
  async requestJson<T>(opts: RequestOptions): Promise<T> {
    const res = await request(this.server, this.token, {
      timeoutMs: this.timeoutMs,
      agent: this.agent,
      userAgent: this.userAgent,
      ...opts,
    });
    if (res.status < 200 || res.status > 299) throw errorFromResponse(res.status, res.body);
    if (res.body.length === 0) return undefined as T;
    try {
      return JSON.parse(res.body.toString()) as T;
    } catch {
      throw new ApiError(
        'InternalError',
        `the server answered ${opts.method} ${opts.path} with invalid JSON`,
      );
    }
  }

  async get<T extends KubeObject = KubeObject>(
    kind: KindInfo,
    namespace: string | undefined,
    name: string,
  ): Promise<T> {
    return this.requestJson<T>({ method: 'GET', path: resourcePath(kind, namespace, name) });
  }

  async list<T extends KubeObject = KubeObject>(
    kind: KindInfo,
    opts: ListOptions = {},
  ): Promise<KubeList<T>> {
    return this.requestJson<KubeList<T>>({
      method: 'GET',
      path: resourcePath(kind, opts.namespace),
      query: {
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        limit: opts.limit,
        continue: opts.continue,
      },
    });
  }

  /** Lists every page (following `continue`); the result carries the first page's resourceVersion. */
  async listAll<T extends KubeObject = KubeObject>(
    kind: KindInfo,
    opts: Omit<ListOptions, 'continue'> = {},
  ): Promise<KubeList<T>> {
    const first = await this.list<T>(kind, opts);
    const items = [...(first.items ?? [])];
    let cont = first.metadata?.continue;
    while (cont) {
      const page = await this.list<T>(kind, { ...opts, continue: cont });
      items.push(...(page.items ?? []));
      cont = page.metadata?.continue;
    }
    return { ...first, metadata: { resourceVersion: first.metadata?.resourceVersion }, items };
  }

  async create<T extends KubeObject = KubeObject>(obj: T, opts: WriteOptions = {}): Promise<T> {
    const kind = kindOf(obj);
    return this.requestJson<T>({
      method: 'POST',
      path: resourcePath(kind, obj.metadata?.namespace),
      query: this.writeQuery(opts),
      body: obj,
    });
  }

  /** PUT of the whole object; a set metadata.resourceVersion makes it compare-and-swap (409 if stale). */
  async update<T extends KubeObject = KubeObject>(obj: T, opts: WriteOptions = {}): Promise<T> {
    const kind = kindOf(obj);
    return this.requestJson<T>({
      method: 'PUT',
      path: resourcePath(kind, obj.metadata?.namespace, this.nameOf(obj)),
      query: this.writeQuery(opts),
      body: obj,
    });
  }

  /** PUT to the /status subresource: only .status changes. */
  async updateStatus<T extends KubeObject = KubeObject>(obj: T, opts: WriteOptions = {}): Promise<T> {
    const kind = kindOf(obj);
    return this.requestJson<T>({
      method: 'PUT',
      path: resourcePath(kind, obj.metadata?.namespace, this.nameOf(obj), 'status'),
      query: this.writeQuery(opts),
      body: obj,
    });
  }

  async patch<T extends KubeObject = KubeObject>(
    kind: KindInfo,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    type: PatchType = 'merge',
    opts: WriteOptions & { subresource?: 'status' | 'scale' } = {},
  ): Promise<T> {
    return this.requestJson<T>({
      method: 'PATCH',
      path: resourcePath(kind, namespace, name, opts.subresource),
      query: this.writeQuery(opts),
      body: patch,
      contentType: PATCH_TYPES[type],
    });
  }

  /**
   * Server-side apply: PATCH of the full desired object as application/apply-patch+yaml (JSON is
   * YAML). Creates the object when it does not exist.
   */
  async apply<T extends KubeObject = KubeObject>(obj: T, opts: ApplyOptions = {}): Promise<T> {
    const kind = kindOf(obj);
    return this.requestJson<T>({
      method: 'PATCH',
      path: resourcePath(kind, obj.metadata?.namespace, this.nameOf(obj)),
      query: {
        fieldManager: opts.fieldManager ?? 'berthctl',
        dryRun: opts.dryRun ? 'All' : undefined,
        force: opts.force ? 'true' : undefined,
      },
      body: obj,
      contentType: 'application/apply-patch+yaml',
    });
  }

  /** Returns what the server answers: the deleted object, the object marked for deletion, or a Status. */
  async delete(
    kind: KindInfo,
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions = {},
  ): Promise<KubeObject> {
    return this.requestJson<KubeObject>({
      method: 'DELETE',
      path: resourcePath(kind, namespace, name),
      query: {
        propagationPolicy: opts.propagationPolicy,
        dryRun: opts.dryRun ? 'All' : undefined,
        gracePeriodSeconds: opts.gracePeriodSeconds,
      },
    });
  }

  async getScale(kind: KindInfo, namespace: string | undefined, name: string): Promise<Scale> {
    this.requireScale(kind);
    return this.requestJson<Scale>({ method: 'GET', path: resourcePath(kind, namespace, name, 'scale') });
  }

  async setScale(
    kind: KindInfo,
    namespace: string | undefined,
    name: string,
    replicas: number,
    opts: WriteOptions = {},
  ): Promise<Scale> {
    this.requireScale(kind);
    const body: Scale = {
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: { name, namespace },
      spec: { replicas },
    };
    return this.requestJson<Scale>({
      method: 'PUT',
      path: resourcePath(kind, namespace, name, 'scale'),
      query: this.writeQuery(opts),
      body,
    });
  }

  /**
   * Streams watch events (newline-delimited JSON). Ends when the server closes the stream or the
   * signal aborts; an ERROR event is thrown as ApiError (410 Gone when resourceVersion is too old).
   */
  async *watch<T extends KubeObject = KubeObject>(
    kind: KindInfo,
    opts: WatchOptions = {},
    signal?: AbortSignal,
  ): AsyncGenerator<WatchEvent<T>> {
    const query: Query = {
      watch: 'true',
      resourceVersion: opts.resourceVersion,
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      allowWatchBookmarks: opts.allowBookmarks ? 'true' : undefined,
    };
    let res;
    try {
      ({ res } = await send(this.server, this.token, {
        method: 'GET',
        path: resourcePath(kind, opts.namespace),
        query,
        signal,
        timeoutMs: this.timeoutMs,
        agent: this.agent,
        userAgent: this.userAgent,
      }));
    } catch (e) {
      if (signal?.aborted) return;
      throw e;
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      throw errorFromResponse(status, Buffer.concat(chunks));
    }
    try {
      for await (const line of readLines(res)) {
        let ev: WatchEvent<T>;
        try {
          ev = JSON.parse(line) as WatchEvent<T>;
        } catch {
          throw new ApiError(
            'InternalError',
            `the watch stream sent a line that is not JSON: ${line.slice(0, 200)}`,
          );
        }
        if (ev.type === 'ERROR') {
          const obj: unknown = ev.object;
          if (isStatus(obj)) throw ApiError.fromStatus(obj);
          throw new ApiError('InternalError', `watch error: ${JSON.stringify(obj).slice(0, 500)}`);
        }
        yield ev;
      }
    } catch (e) {
      if (signal?.aborted) return;
      if (e instanceof ApiError) throw e;
      // The connection broke mid-stream: end like a server-side close; callers resume.
      const code = (e as NodeJS.ErrnoException).code;
      if (
        code === 'ECONNRESET' ||
        code === 'ERR_STREAM_PREMATURE_CLOSE' ||
        (e as Error).message === 'aborted'
      )
        return;
      throw e;
    } finally {
      res.destroy();
    }
  }

  /**
   * The log of a pod's container as a stream (followed while the container runs with follow).
   * A non-2xx answer or an unreachable server is emitted as the stream's 'error'.
   */
  logs(namespace: string, pod: string, opts: LogOptions = {}, signal?: AbortSignal): Readable {
    const out = new PassThrough();
    const pods = kindFor('v1', 'Pod')!;
    send(this.server, this.token, {
      method: 'GET',
      path: resourcePath(pods, namespace, pod, 'log'),
      query: {
        container: opts.container,
        follow: opts.follow ? 'true' : undefined,
        previous: opts.previous ? 'true' : undefined,
        tailLines: opts.tailLines,
      },
      accept: '*/*',
      signal,
      timeoutMs: this.timeoutMs,
      agent: this.agent,
      userAgent: this.userAgent,
    }).then(
      async ({ res }) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) {
          const chunks: Buffer[] = [];
          for await (const c of res) chunks.push(c as Buffer);
          out.destroy(errorFromResponse(status, Buffer.concat(chunks)));
          return;
        }
        res.on('error', (e) => out.destroy(signal?.aborted ? undefined : e));
        out.on('close', () => res.destroy());
        res.pipe(out);
      },
      (e: unknown) => out.destroy(signal?.aborted ? undefined : (e as Error)),
    );
    return out;
  }

  /** GET /version (server build information). */
  async version(): Promise<Record<string, string>> {
    return this.requestJson<Record<string, string>>({ method: 'GET', path: '/version' });
  }

  private writeQuery(opts: WriteOptions): Query {
    return { dryRun: opts.dryRun ? 'All' : undefined, fieldManager: opts.fieldManager };
  }

  private nameOf(obj: KubeObject): string {
    const name = obj.metadata?.name;
    if (!name) throw new ApiError('BadRequest', `${obj.kind} has no metadata.name`);
    return name;
  }

  private requireScale(kind: KindInfo): void {
    if (!kind.hasScale)
      throw new ApiError('BadRequest', `${kind.resource}.${apiVersionOf(kind)} has no scale subresource`);
  }
}
