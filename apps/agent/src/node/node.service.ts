import { ApiError, kindFor, type KubeObject, type NodeStatusV1 } from '@berth/api';
import type { BerthClient } from '@berth/client';
import { NodeLease } from './lease';
import { buildNode, buildNodeStatus, type HostInfo } from './node-status';

const NODES = kindFor('v1', 'Node')!;

export interface NodeServiceOptions {
  client: BerthClient;
  info: HostInfo;
  /** How often the Lease is renewed and the Node status compared with the server's. */
  heartbeatIntervalMs: number;
  /** The full status is posted at least this often (default: 60 s, or 5 heartbeats when sooner). */
  statusReportIntervalMs?: number;
  /** The node's images for status.images (Kubernetes lists them there). */
  images?: () => Promise<{ names: string[]; sizeBytes?: number }[]>;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
  /** Tests: the clock. */
  now?: () => Date;
}

/** The default full-status period: 60 s, or 5 heartbeats when that is sooner. */
export function statusReportInterval(heartbeatMs: number, configured?: number): number {
  return configured ?? Math.min(60_000, 5 * heartbeatMs);
}

/**
 * Whether the status the agent would post differs from the server's in anything but heartbeat
 * times: a Ready condition that is not True (the control plane marked the node Unknown while the
 * agent was away), changed capacity, addresses, images, … Pure.
 */
export function statusDiffers(server: NodeStatusV1 | undefined, mine: NodeStatusV1): boolean {
  if (!server) return true;
  const strip = (s: NodeStatusV1) => {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(mine) as (keyof NodeStatusV1)[])
      out[k] =
        k === 'conditions'
          ? (s.conditions ?? []).map(({ lastHeartbeatTime: _h, ...c }) => c)
          : (s[k] ?? null);
    return JSON.stringify(out);
  };
  return strip(server) !== strip(mine);
}

/**
 * Registers the agent's Node (create, or take over an existing one by writing its status) and
 * keeps it alive as the kubelet does: every heartbeat interval the Lease kube-node-lease/<node>
 * is renewed (the frequent, cheap heartbeat) and the Node is read back; its status is posted when
 * it differs from the server's (e.g. Ready was set to Unknown by the node-lifecycle controller
 * while the agent was stopped: it goes back to True at once) and at least every status report
 * interval (Ready's lastHeartbeatTime). A failed beat is logged and retried at the next interval.
 */
export class NodeService {
  private timer?: NodeJS.Timeout;
  private readySince: Date;
  private beating?: Promise<void>;
  private lastPostAt = 0;
  readonly lease: NodeLease;
  private readonly now: () => Date;

  constructor(private readonly opts: NodeServiceOptions) {
    this.now = opts.now ?? (() => new Date());
    this.readySince = this.now();
    this.lease = new NodeLease({ client: opts.client, nodeName: opts.info.nodeName });
  }

  get name(): string {
    return this.opts.info.nodeName;
  }

  async register(): Promise<KubeObject> {
    const { client, info } = this.opts;
    this.readySince = this.now();
    let node: KubeObject;
    try {
      const created = await client.create(buildNode(info, this.readySince));
      // a server that drops status on create gets it through the subresource
      node = created.status?.conditions?.length ? created : await this.writeStatus(created);
      this.lastPostAt = this.now().getTime();
    } catch (e) {
      if (!(e instanceof ApiError) || e.code !== 409) throw e;
      node = await this.writeStatus(await client.get(NODES, undefined, info.nodeName));
    }
    this.own(node);
    await this.lease
      .renew()
      .catch((e: unknown) => this.opts.log.warn({ err: (e as Error).message }, 'node lease not renewed'));
    return node;
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

  /**
   * One heartbeat: renew the Lease, then read the Node and post its status if it differs or is
   * due. Re-registers a deleted Node.
   */
  async beat(): Promise<void> {
    const { client, info, log } = this.opts;
    const leaseError = await this.lease.renew().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    let node: KubeObject;
    try {
      node = await client.get(NODES, undefined, info.nodeName);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) {
        log.info({ node: info.nodeName }, 'node object is gone; registering again');
        await this.register();
        return;
      }
      throw e;
    }
    this.own(node);
    const status = node.status as NodeStatusV1 | undefined;
    const serverReady = status?.conditions?.find((c) => c.type === 'Ready');
    if (serverReady && serverReady.status !== 'True') {
      log.info(
        { node: info.nodeName, was: serverReady.status, reason: serverReady.reason },
        'node was marked not ready; reporting Ready again',
      );
      this.readySince = this.now();
    }
    const due =
      this.now().getTime() - this.lastPostAt >=
      statusReportInterval(this.opts.heartbeatIntervalMs, this.opts.statusReportIntervalMs);
    if (due || statusDiffers(status, await this.desired(node))) await this.writeStatus(node);
    if (leaseError) throw leaseError;
  }

  private own(node: KubeObject): void {
    if (node.metadata.uid) this.lease.setOwner({ name: this.opts.info.nodeName, uid: node.metadata.uid });
  }

  private async desired(node: KubeObject): Promise<NodeStatusV1> {
    const status: NodeStatusV1 = buildNodeStatus(this.opts.info, this.now(), this.readySince);
    if (this.opts.images) status.images = await this.opts.images().catch(() => node.status?.images ?? []);
    return status;
  }

  private async writeStatus(node: KubeObject): Promise<KubeObject> {
    const status = await this.desired(node);
    // keep what others wrote unless we set it
    const next = { ...node, status: { ...(node.status ?? {}), ...status } };
    delete next.metadata.managedFields;
    const written = await this.opts.client.updateStatus(next);
    this.lastPostAt = this.now().getTime();
    return written;
  }
}
