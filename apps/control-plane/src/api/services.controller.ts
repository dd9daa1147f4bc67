import { All, Controller, Inject, Req, Res } from '@nestjs/common';
import { ApiError, kindFor, type WatchEvent } from '@berth/api';
import { RESOURCE_STORE, type ResourceStore } from '@berth/store';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { flatQuery, ShutdownSignal } from './resource.controller';
import type { ColumnDefinition } from './table-printers';
import { negotiateTable, type Table, type TableVersion } from './table';
import { streamWatch } from './watch-stream';

/**
 * Berth has no Service kind (no pod network, no cluster IPs). Clients still ask for Services:
 * `kubectl cluster-info` lists those labelled kubernetes.io/cluster-service=true in kube-system,
 * `kubectl get all` lists the "all" category. So `services` is served read-only and always empty:
 * discovery advertises get/list/watch only, a list is empty (a ServiceList, or a Table with
 * Kubernetes' Service columns), a watch stays open with no events, a name is NotFound, and every
 * write is refused with 405 saying so, rather than accepting objects that would do nothing.
 * Discovery lists it from EMPTY_RESOURCES (discovery.ts).
 */
export const NO_SERVICES_MESSAGE =
  'Berth has no Services yet: the services resource is read-only and always empty ' +
  '(see docs/architecture.md, "Known gaps")';

const NAMESPACE = kindFor('v1', 'Namespace')!;

const column = (name: string, description: string, priority = 0, format = ''): ColumnDefinition => ({
  name,
  type: 'string',
  format,
  description,
  priority,
});

/** Kubernetes' `kubectl get services` columns. */
export const SERVICE_COLUMNS: ColumnDefinition[] = [
  column('Name', 'Name must be unique within a namespace.', 0, 'name'),
  column('Type', 'The type of the service: ClusterIP, NodePort, LoadBalancer or ExternalName.'),
  column('Cluster-IP', 'The IP address of the service inside the cluster.'),
  column('External-IP', 'The IP addresses the service is reachable at from outside the cluster.'),
  column('Port(s)', 'The ports the service exposes.'),
  column('Age', 'How long ago the object was created (metadata.creationTimestamp).'),
  column('Selector', 'The labels of the pods the service routes to.', 1),
];

/** The empty list of services, as a ServiceList or (for kubectl get) a Table. */
export function emptyServices(resourceVersion: string, table: TableVersion | undefined): object {
  if (table) {
    const t: Table = {
      kind: 'Table',
      apiVersion: `meta.k8s.io/${table}`,
      metadata: { resourceVersion },
      columnDefinitions: SERVICE_COLUMNS,
      rows: [],
    };
    return t;
  }
  return { kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion }, items: [] };
}

/** A watch that never has an event: it ends when `signal` aborts. */
export function noEvents(signal: AbortSignal): AsyncIterable<WatchEvent> {
  return {
    [Symbol.asyncIterator]: () => ({
      next: () =>
        new Promise<IteratorResult<WatchEvent>>((resolve) => {
          const done = (): void => resolve({ done: true, value: undefined });
          if (signal.aborted) done();
          else signal.addEventListener('abort', done, { once: true });
        }),
    }),
  };
}

/** What a request under .../services asks for: the collection, or one name (with a subresource). */
export function servicesRequest(path: string): { name?: string } {
  const rest = path.replace(/^\/api\/v1\/(?:namespaces\/[^/]+\/)?services\/?/, '');
  return rest ? { name: decodeURIComponent(rest.split('/')[0]) } : {};
}

@Controller()
export class ServicesController {
  constructor(
    @Inject(RESOURCE_STORE) private readonly store: ResourceStore,
    private readonly shutdown: ShutdownSignal,
  ) {}

  @All([
    'api/v1/services',
    'api/v1/services/*',
    'api/v1/namespaces/:namespace/services',
    'api/v1/namespaces/:namespace/services/*',
  ])
  async serve(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const path = req.url.split('?')[0];
    if (req.method !== 'GET')
      throw new ApiError('MethodNotAllowed', `${NO_SERVICES_MESSAGE}: ${req.method} ${path}`);
    const { name } = servicesRequest(path);
    if (name !== undefined)
      throw new ApiError('NotFound', `services "${name}" not found`, { name, kind: 'services' });
    const q = flatQuery(req.query);
    if (q.watch === 'true' || q.watch === '1') {
      const timeoutSeconds = /^\d+$/.test(q.timeoutSeconds ?? '')
        ? Number(q.timeoutSeconds) || undefined
        : undefined;
      // nothing ever happens to a Service: the watch stays open until it times out or the client leaves
      return streamWatch(req, reply, noEvents, { timeoutSeconds, shutdown: this.shutdown.signal });
    }
    // the store's current revision, so a watch from this list misses nothing (there is nothing)
    const { resourceVersion } = await this.store.list(NAMESPACE, { limit: 1 });
    await reply
      .code(200)
      .header('content-type', 'application/json')
      .send(JSON.stringify(emptyServices(resourceVersion, negotiateTable(req.headers.accept))));
  }
}
