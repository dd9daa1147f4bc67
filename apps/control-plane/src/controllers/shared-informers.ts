import { Inject, Injectable } from '@nestjs/common';
import { setMaxListeners } from 'node:events';
import type { KindInfo, KubeObject } from '@berth/api';
import { Informer } from '@berth/controllers';
import { RESOURCE_STORE, type ResourceStore } from '@berth/store';
import type { Logger } from 'pino';
import { LOGGER } from '../logging/logger';
import { storeListAndWatch } from './store-source';

/**
 * One informer per kind for all controllers of this process (so 30,000 pods are cached once).
 * Controllers ask for theirs while being constructed; the manager starts them all when this
 * process becomes the leader, and they keep running until shutdown.
 */
@Injectable()
export class SharedInformers {
  private readonly informers = new Map<string, Informer>();
  private readonly abort = new AbortController();
  private started = false;

  constructor(
    @Inject(RESOURCE_STORE) private readonly store: ResourceStore,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    // One abort listener per kind's watch: more than Node's default warning threshold of 10.
    setMaxListeners(0, this.abort.signal);
  }

  for<T extends KubeObject = KubeObject>(kind: KindInfo): Informer<T> {
    let inf = this.informers.get(kind.resource);
    if (!inf) {
      inf = new Informer(kind, (signal) =>
        storeListAndWatch(
          this.store,
          kind,
          {
            onRetry: (e) =>
              this.log.warn(
                { kind: kind.kind, err: (e as Error).message },
                'informer: watch failed; retrying',
              ),
          },
          signal,
        ),
      );
      this.informers.set(kind.resource, inf);
      if (this.started) this.runOne(inf);
    }
    return inf as unknown as Informer<T>;
  }

  /** Starts every informer asked for so far (and later ones at once); resolves when all have synced. */
  async start(): Promise<void> {
    if (!this.started) {
      this.started = true;
      for (const inf of this.informers.values()) this.runOne(inf);
    }
    await Promise.all([...this.informers.values()].map((i) => i.whenSynced()));
  }

  private runOne(inf: Informer): void {
    inf
      .run(this.abort.signal)
      .catch((e: unknown) =>
        this.log.error({ kind: inf.kind.kind, err: (e as Error).message }, 'informer stopped'),
      );
  }

  stop(): void {
    this.abort.abort();
  }
}
