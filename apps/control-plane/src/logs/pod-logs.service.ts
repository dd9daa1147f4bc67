import http from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { ApiError, kindFor, type KubeObject } from '@berth/api';
import { RESOURCE_STORE, type ResourceStore } from '@berth/store';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AUTH_TOKENS } from '../auth/auth.guard';
import type { Query } from '../api/resource.service';
import { podAgentEndpoint, podContainer } from '../pods/pod-agent';

const POD = kindFor('v1', 'Pod')!;
const NODE = kindFor('v1', 'Node')!;

export interface AgentLogTarget {
  host: string;
  port: number;
  path: string;
  /** What the control plane does to the agent's stream (since, timestamps, limitBytes); absent: nothing. */
  filter?: LogFilterOptions;
}

/** A point in time to the nanosecond, as log timestamps carry it. */
export interface LogTime {
  /** Whole seconds since the epoch. */
  seconds: number;
  nanos: number;
}

export interface LogFilterOptions {
  /** Lines timestamped before this are left out (sinceSeconds / sinceTime). */
  since?: LogTime;
  /** Keep each line's timestamp (`timestamps=true`), written as RFC 3339 in UTC to the nanosecond. */
  timestamps: boolean;
  /** Stop after this many bytes of output (`limitBytes`), mid-line if need be. */
  limitBytes?: number;
}

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|z|[+-]\d\d:\d\d)$/;

/** Parses an RFC 3339 time (fraction to the nanosecond, any offset); undefined when it is not one. */
export function parseLogTime(s: string): LogTime | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const ms = Date.parse(m[1] + (m[3] === 'z' ? 'Z' : m[3]));
  if (Number.isNaN(ms)) return undefined;
  return { seconds: Math.floor(ms / 1000), nanos: Number((m[2] ?? '').padEnd(9, '0')) };
}

/** RFC 3339 in UTC with the fraction's trailing zeros dropped (Go's RFC3339Nano, what kubelet prints). */
export function formatLogTime(t: LogTime): string {
  const frac = String(t.nanos).padStart(9, '0').replace(/0+$/, '');
  return new Date(t.seconds * 1000).toISOString().slice(0, 19) + (frac ? `.${frac}` : '') + 'Z';
}

const before = (a: LogTime, b: LogTime): boolean =>
  a.seconds < b.seconds || (a.seconds === b.seconds && a.nanos < b.nanos);

/**
 * Applies `since`, `timestamps` and `limitBytes` to a container log stream that arrives as
 * `TIME LINE\n` lines (the agent's `timestamps=true` form) in chunks cut anywhere. Kubelet's order:
 * tailLines (done by the agent) first, then since, then the byte limit over what is written.
 */
export class LogStreamFilter {
  private pending = '';
  private written = 0;

  constructor(private readonly opts: LogFilterOptions) {}

  /** True once limitBytes has been reached: nothing more will come out. */
  get full(): boolean {
    return this.opts.limitBytes !== undefined && this.written >= this.opts.limitBytes;
  }

  /** The output for the next chunk of input. */
  push(chunk: Buffer | string): Buffer {
    if (!this.timed) return this.limit(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    this.pending += chunk.toString();
    const end = this.pending.lastIndexOf('\n');
    if (end < 0) return Buffer.alloc(0);
    const lines = this.pending.slice(0, end).split('\n');
    this.pending = this.pending.slice(end + 1);
    return this.limit(Buffer.from(lines.map((l) => this.line(l)).join('')));
  }

  /** The output for what is left when the input ends (a last line without a newline). */
  end(): Buffer {
    if (!this.timed || this.pending === '') return Buffer.alloc(0);
    const rest = this.line(this.pending).replace(/\n$/, '');
    this.pending = '';
    return this.limit(Buffer.from(rest));
  }

  private get timed(): boolean {
    return this.opts.timestamps || this.opts.since !== undefined;
  }

  private line(l: string): string {
    const sp = l.indexOf(' ');
    const time = sp > 0 ? parseLogTime(l.slice(0, sp)) : undefined;
    if (!time) return l + '\n'; // not a timestamped line: passed on as it is
    if (this.opts.since && before(time, this.opts.since)) return '';
    return (this.opts.timestamps ? `${formatLogTime(time)} ` : '') + l.slice(sp + 1) + '\n';
  }

  private limit(b: Buffer): Buffer {
    if (this.opts.limitBytes === undefined) return b;
    const room = Math.max(0, this.opts.limitBytes - this.written);
    const out = b.length > room ? b.subarray(0, room) : b;
    this.written += out.length;
    return out;
  }
}

function wholeNumber(q: Query, name: string, min: number): number | undefined {
  const v = q[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min)
    throw new ApiError('BadRequest', `${name} must be a whole number ≥ ${min}, not ${JSON.stringify(v)}`);
  return Number(v);
}

/**
 * Works out which agent serves a pod container's log and the path to ask it for (pure: the pod and
 * its node as read from the store). Errors read as kubectl's do.
 */
export function logTarget(
  pod: KubeObject,
  node: KubeObject | undefined,
  q: Query,
  now = Date.now(),
): AgentLogTarget {
  const name = pod.metadata.name!;
  const container = podContainer(pod, q.container);
  const params = new URLSearchParams();
  const flags: Record<string, boolean> = {};
  for (const flag of ['follow', 'previous', 'timestamps'] as const) {
    const v = q[flag];
    if (v === undefined || v === '') continue;
    if (!['true', 'false', '1', '0'].includes(v))
      throw new ApiError('BadRequest', `${flag} must be true or false, not ${JSON.stringify(v)}`);
    flags[flag] = v === 'true' || v === '1';
    if (flag !== 'timestamps') params.set(flag, String(flags[flag]));
  }
  const tailLines = wholeNumber(q, 'tailLines', 0);
  if (tailLines !== undefined) params.set('tailLines', String(tailLines));
  const limitBytes = wholeNumber(q, 'limitBytes', 1);
  const sinceSeconds = wholeNumber(q, 'sinceSeconds', 1);
  let since: LogTime | undefined;
  if (q.sinceTime !== undefined && q.sinceTime !== '') {
    if (sinceSeconds !== undefined)
      throw new ApiError('BadRequest', 'at most one of sinceTime or sinceSeconds may be specified');
    since = parseLogTime(q.sinceTime);
    if (!since)
      throw new ApiError(
        'BadRequest',
        `sinceTime must be an RFC 3339 time, not ${JSON.stringify(q.sinceTime)}`,
      );
  } else if (sinceSeconds !== undefined) {
    const from = now - sinceSeconds * 1000;
    since = { seconds: Math.floor(from / 1000), nanos: (from % 1000) * 1_000_000 };
  }
  const timestamps = flags.timestamps === true;
  // The agent prefixes lines with their time; the control plane filters and rewrites them.
  if (timestamps || since) params.set('timestamps', 'true');
  const filter: LogFilterOptions | undefined =
    timestamps || since || limitBytes !== undefined
      ? { timestamps, ...(since ? { since } : {}), ...(limitBytes !== undefined ? { limitBytes } : {}) }
      : undefined;
  const { host, port } = podAgentEndpoint(pod, node, ': it has no logs', ' for logs');
  const ns = pod.metadata.namespace!;
  const path =
    `/containerLogs/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/${encodeURIComponent(container)}` +
    (params.size ? `?${params}` : '');
  return { host, port, path, ...(filter ? { filter } : {}) };
}

/**
 * GET /api/v1/namespaces/{ns}/pods/{name}/log: streams the container's log from the agent of the
 * pod's node (the agent authenticates the control plane by its bearer token). follow keeps the
 * stream open until the client leaves; the agent's errors come back as they are (Status JSON).
 */
@Injectable()
export class PodLogService {
  constructor(
    @Inject(RESOURCE_STORE) private readonly store: ResourceStore,
    @Inject(AUTH_TOKENS) private readonly tokens: string[],
  ) {}

  async stream(
    req: FastifyRequest,
    reply: FastifyReply,
    namespace: string,
    name: string,
    q: Query,
  ): Promise<void> {
    const pod = await this.store.get(POD, namespace, name);
    const nodeName: string | undefined = pod.spec?.nodeName;
    const node = nodeName
      ? await this.store.get(NODE, undefined, nodeName).catch(() => undefined)
      : undefined;
    const target = logTarget(pod, node, q);
    const upstream = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const r = http.get(
        {
          host: target.host,
          port: target.port,
          path: target.path,
          headers: { authorization: `Bearer ${this.tokens[0]}` },
        },
        resolve,
      );
      r.on('error', (e) =>
        reject(
          new ApiError(
            'ServiceUnavailable',
            `cannot reach the agent of node ${nodeName} at ${target.host}:${target.port}: ${e.message}`,
          ),
        ),
      );
      reply.raw.once('close', () => r.destroy());
    });
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(upstream.statusCode ?? 502, {
      'content-type': upstream.headers['content-type'] ?? 'text/plain',
      'cache-control': 'no-cache, private',
    });
    raw.flushHeaders();
    const stop = (): void => {
      upstream.destroy();
      if (!raw.writableEnded) raw.end();
    };
    // the client going away shows on the response (a GET's request may be 'close'd long before)
    raw.once('close', stop);
    upstream.on('error', stop);
    if (!target.filter || upstream.statusCode !== 200) {
      upstream.pipe(raw);
      return;
    }
    const filter = new LogStreamFilter(target.filter);
    const write = (b: Buffer): void => {
      if (b.length && !raw.write(b)) {
        upstream.pause();
        raw.once('drain', () => upstream.resume());
      }
    };
    upstream.on('data', (chunk: Buffer) => {
      write(filter.push(chunk));
      if (filter.full) stop();
    });
    upstream.on('end', () => {
      write(filter.end());
      stop();
    });
  }
}
