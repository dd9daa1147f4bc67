import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { ApiError, kindFor, type KindInfo } from '@berth/api';
import { sleep } from '@berth/controllers';
import type { ResourceStore } from '@berth/store';
import type { Logger } from 'pino';
import { SERVER_CONFIG, type ServerConfig } from '../config/config';
import { ControllerManager, type Controller } from '../controllers/controller-manager';
import { CONTROLLER_STORE } from '../controllers/controllers.module';
import { LOGGER } from '../logging/logger';
import { expiredEvents } from './event-ttl';

const EVENTS = kindFor('v1', 'Event') as KindInfo;

/**
 * Deletes Events older than --event-ttl (by when they were last seen), sweeping the store in pages
 * every tenth of the TTL (at most every minute). Events are not cached in an informer: there can
 * be many and nothing else needs them.
 */
@Injectable()
export class EventTtlController implements Controller, OnModuleInit {
  readonly name = 'eventttl';

  constructor(
    private readonly manager: ControllerManager,
    @Inject(CONTROLLER_STORE) private readonly store: ResourceStore,
    @Inject(SERVER_CONFIG) private readonly config: ServerConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onModuleInit(): void {
    this.manager.register(this);
  }

  async run(signal: AbortSignal): Promise<void> {
    const every = Math.max(500, Math.min(this.config.eventTtlMs / 10, 60_000));
    while (!signal.aborted) {
      try {
        await this.sweep(signal);
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'event ttl: sweep failed');
      }
      await sleep(every, signal);
    }
  }

  /** One pass over all events; returns how many were deleted. */
  async sweep(signal?: AbortSignal): Promise<number> {
    let cont: string | undefined;
    let deleted = 0;
    do {
      const page = await this.store.list(EVENTS, { limit: 500, continue: cont });
      for (const ev of expiredEvents(page.items, Date.now(), this.config.eventTtlMs)) {
        if (signal?.aborted) return deleted;
        try {
          await this.store.delete(EVENTS, ev.metadata.namespace, ev.metadata.name as string, {
            preconditions: { resourceVersion: ev.metadata.resourceVersion },
          });
          deleted++;
        } catch (e) {
          // Gone already, or renewed (aggregated) since we read it: both fine.
          if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) throw e;
        }
      }
      cont = page.continue;
    } while (cont && !signal?.aborted);
    if (deleted) this.log.info({ deleted }, 'event ttl: expired events deleted');
    return deleted;
  }
}
