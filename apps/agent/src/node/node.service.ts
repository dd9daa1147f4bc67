import { ApiError, kindFor, type KubeObject, type NodeStatusV1 } from '@berth/api';
import type { BerthClient } from '@berth/client';
import { buildNode, buildNodeStatus, type HostInfo } from './node-status';

const NODES = kindFor('v1', 'Node')!;

export interface NodeServiceOptions {
  client: BerthClient;
  info: HostInfo;
  heartbeatIntervalMs: number;
  /** The node's images for status.images (Kubernetes lists them there). */
  images?: () => Promise<{ names: string[]; sizeBytes?: number }[]>;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

/**
 * Registers the agent's Node (create, or take over an existing one by writing its status) and
 * renews the heartbeat: every interval the Ready condition's lastHeartbeatTime is written through
 * the status subresource. A failed beat is logged and retried at the next interval.
 */
export class NodeService {
  private timer?: NodeJS.Timeout;
  private readySince = new Date();
  private beating?: Promise<void>;

  constructor(private readonly opts: NodeServiceOptions) {}

  get name(): string {
    return this.opts.info.nodeName;
  }

  async register(): Promise<KubeObject> {
    const { client, info } = this.opts;
    this.readySince = new Date();
    try {
      const created = await client.create(buildNode(info, this.readySince));
      // a server that drops status on create gets it through the subresource
      if (!created.status?.conditions?.length) return await this.writeStatus(created);
      return created;
    } catch (e) {
      if (!(e instanceof ApiError) || e.code !== 409) throw e;
    }
    const existing = await client.get(NODES, undefined, info.nodeName);
    return this.writeStatus(existing);
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.beating) return;
      this.beating = this.beat()
        .catch((e: unknown) => this.opts.log.warn({ err: (e as Error).message }, 'node heartbeat failed'))
        .finally(() => (this.beating = undefined));
    }, this.opts.heartbeatIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.beating;
  }

  /** One heartbeat: the current status with a fresh lastHeartbeatTime. Re-registers a deleted Node. */
  async beat(): Promise<void> {
    const { client, info } = this.opts;
    let node: KubeObject;
    try {
      node = await client.get(NODES, undefined, info.nodeName);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) {
        this.opts.log.info({ node: info.nodeName }, 'node object is gone; registering again');
        await this.register();
        return;
      }
      throw e;
    }
    await this.writeStatus(node);
  }

  private async writeStatus(node: KubeObject): Promise<KubeObject> {
    const status: NodeStatusV1 = buildNodeStatus(this.opts.info, new Date(), this.readySince);
    if (this.opts.images) status.images = await this.opts.images().catch(() => node.status?.images ?? []);
    // keep what others wrote (e.g. images) unless we set it
    const next = { ...node, status: { ...(node.status ?? {}), ...status } };
    delete next.metadata.managedFields;
    return this.opts.client.updateStatus(next);
  }
}
