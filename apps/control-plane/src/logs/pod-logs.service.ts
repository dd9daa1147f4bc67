import http from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { ApiError, kindFor, type KubeObject } from '@berth/api';
import { RESOURCE_STORE, type ResourceStore } from '@berth/store';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AUTH_TOKENS } from '../auth/auth.guard';
import type { Query } from '../api/resource.service';

const POD = kindFor('v1', 'Pod')!;
const NODE = kindFor('v1', 'Node')!;

export interface AgentLogTarget {
  host: string;
  port: number;
  path: string;
}

/**
 * Works out which agent serves a pod container's log and the path to ask it for (pure: the pod and
 * its node as read from the store). Errors read as kubectl's do.
 */
export function logTarget(pod: KubeObject, node: KubeObject | undefined, q: Query): AgentLogTarget {
  const name = pod.metadata.name!;
  const containers: string[] = (pod.spec?.containers ?? []).map((c: { name: string }) => c.name);
  let container = q.container;
  if (!container) {
    if (containers.length !== 1)
      throw new ApiError(
        'BadRequest',
        `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`,
      );
    container = containers[0];
  } else if (!containers.includes(container)) {
    throw new ApiError('BadRequest', `container ${container} is not valid for pod ${name}`);
  }
  const params = new URLSearchParams();
  for (const flag of ['follow', 'previous'] as const) {
    const v = q[flag];
    if (v === undefined || v === '') continue;
    if (!['true', 'false', '1', '0'].includes(v))
      throw new ApiError('BadRequest', `${flag} must be true or false, not ${JSON.stringify(v)}`);
    params.set(flag, v === 'true' || v === '1' ? 'true' : 'false');
  }
  if (q.tailLines !== undefined && q.tailLines !== '') {
    if (!/^\d+$/.test(q.tailLines))
      throw new ApiError(
        'BadRequest',
        `tailLines must be a whole number, not ${JSON.stringify(q.tailLines)}`,
      );
    params.set('tailLines', q.tailLines);
  }
  const nodeName: string | undefined = pod.spec?.nodeName;
  if (!nodeName)
    throw new ApiError('BadRequest', `pod ${name} is not scheduled to a node yet: it has no logs`);
  if (!node) throw new ApiError('ServiceUnavailable', `node ${nodeName} of pod ${name} is not registered`);
  const addrs: Array<{ type: string; address: string }> = node.status?.addresses ?? [];
  const host = addrs.find((a) => a.type === 'InternalIP')?.address ?? addrs[0]?.address;
  const port = Number(node.status?.daemonEndpoints?.kubeletEndpoint?.Port);
  if (!host || !port)
    throw new ApiError('ServiceUnavailable', `node ${nodeName} does not publish an agent endpoint for logs`);
  const ns = pod.metadata.namespace!;
  const path =
    `/containerLogs/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/${encodeURIComponent(container)}` +
    (params.size ? `?${params}` : '');
  return { host, port, path };
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
      req.raw.once('close', () => r.destroy());
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
    req.raw.once('close', stop);
    upstream.on('error', stop);
    upstream.pipe(raw);
  }
}
