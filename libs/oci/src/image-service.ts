import path from 'node:path';
import { ContentStore } from './content-store';
import { RegistryHosts } from './hosts';
import { ImageStore, type GcOptions, type GcResult, type ImageRecord } from './image-store';
import { LayerStore } from './layer-store';
import { Puller, type PullOptions } from './puller';
import { RegistryClient, type RegistryClientOptions } from './registry-client';
import { hasPinnedVersion } from './reference';
import { NotFoundError } from './errors';

export interface ImageServiceOptions {
  /** Data directory: blobs/, ingest/, l/ (layer dirs), layers/ (layer metadata), images.json. */
  root: string;
  hosts?: RegistryHosts;
  client?: Omit<RegistryClientOptions, 'hosts'>;
  concurrency?: number;
  log?: (msg: string) => void;
}

/**
 * The image side of a node in one object: content store, layer store, image records and puller
 * over one data directory. Pulls run concurrently; `gc` waits until no pull is running and no
 * pull starts while it runs, so it never deletes a layer a pull is about to record.
 */
export class ImageService {
  readonly content: ContentStore;
  readonly layers: LayerStore;
  readonly images: ImageStore;
  readonly puller: Puller;
  readonly client: RegistryClient;
  private active = 0;
  private idle: (() => void)[] = [];
  private gcRun: Promise<unknown> = Promise.resolve();

  constructor(readonly opts: ImageServiceOptions) {
    this.content = new ContentStore(opts.root);
    this.layers = new LayerStore(opts.root);
    this.images = new ImageStore(opts.root, this.content, this.layers);
    this.client = new RegistryClient({
      ...opts.client,
      hosts: opts.hosts,
      log: opts.client?.log ?? opts.log,
    });
    this.puller = new Puller({
      client: this.client,
      content: this.content,
      layers: this.layers,
      images: this.images,
      concurrency: opts.concurrency,
      log: opts.log,
    });
  }

  /** Creates the directories and clears what a crash left half-done. */
  async init(): Promise<void> {
    await this.content.init();
    await this.layers.init();
  }

  get layersDir(): string {
    return path.join(this.opts.root, 'l');
  }

  async pull(reference: string, opts: PullOptions = {}): Promise<ImageRecord> {
    await this.gcRun;
    this.active++;
    try {
      await this.init();
      return await this.puller.pull(reference, opts);
    } finally {
      if (--this.active === 0) for (const f of this.idle.splice(0)) f();
    }
  }

  /**
   * The image for a container, by Kubernetes pull policy: `Always` pulls (cheap when everything
   * is present: one manifest request), `IfNotPresent` pulls only when the image or one of its
   * layer directories is missing, `Never` only looks locally (NotFound when absent). Without a
   * policy Kubernetes' default applies: Always for `:latest` or no tag, else IfNotPresent.
   */
  async ensure(
    reference: string,
    opts: PullOptions & { pullPolicy?: 'Always' | 'IfNotPresent' | 'Never' } = {},
  ): Promise<ImageRecord> {
    const policy = opts.pullPolicy ?? (hasPinnedVersion(reference) ? 'IfNotPresent' : 'Always');
    if (policy !== 'Always') {
      const have = await this.images.get(reference);
      if (have && (await Promise.all(have.layers.map((l) => this.layers.get(l.diffID)))).every(Boolean))
        return have;
      if (policy === 'Never')
        throw new NotFoundError(
          `image ${reference} is not present on this node and its pull policy is Never`,
        );
    }
    return this.pull(reference, opts);
  }

  /** The image if present locally (no network). */
  get(refOrDigest: string): Promise<ImageRecord | undefined> {
    return this.images.get(refOrDigest);
  }

  list(): Promise<ImageRecord[]> {
    return this.images.list();
  }

  remove(refOrDigest: string): Promise<boolean> {
    return this.images.remove(refOrDigest);
  }

  gc(inUse: Set<string>, opts: GcOptions = {}): Promise<GcResult> {
    const run = this.gcRun.then(async () => {
      while (this.active > 0) await new Promise<void>((r) => this.idle.push(r));
      return this.images.gc(inUse, opts);
    });
    this.gcRun = run.catch(() => undefined);
    return run;
  }
}
