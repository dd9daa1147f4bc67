import { Global, Module } from '@nestjs/common';
import { kindFor, type KindInfo } from '@berth/api';
import { EventRecorder } from '@berth/controllers';
import { RESOURCE_STORE, type ResourceStore } from '@berth/store';
import type { Logger } from 'pino';
import { LOGGER } from '../logging/logger';
import { ControllerManager } from './controller-manager';
import { FencedStore } from './fenced-store';
import { SharedInformers } from './shared-informers';

/** The store controllers write through: fenced on the leader lease. */
export const CONTROLLER_STORE = Symbol('CONTROLLER_STORE');
/** The EventRecorder of the control plane's controllers (component berth-controller-manager). */
export const EVENT_RECORDER = Symbol('EVENT_RECORDER');

const EVENT_KIND = kindFor('v1', 'Event') as KindInfo;

/**
 * The controller runtime of the control plane: shared informers, leader election and the
 * manager that runs controllers on the leader, the fenced store and the event recorder. Each
 * controller is its own module that injects these and registers with ControllerManager.
 */
@Global()
@Module({
  providers: [
    SharedInformers,
    ControllerManager,
    {
      provide: CONTROLLER_STORE,
      inject: [RESOURCE_STORE, ControllerManager],
      useFactory: (store: ResourceStore, m: ControllerManager) =>
        new FencedStore(store, () => m.elector.fence),
    },
    {
      provide: EVENT_RECORDER,
      inject: [CONTROLLER_STORE, LOGGER, ControllerManager],
      useFactory: (store: ResourceStore, log: Logger, m: ControllerManager) =>
        new EventRecorder(
          {
            create: (ev) => store.create(EVENT_KIND, ev),
            update: (ev) => store.update(EVENT_KIND, ev),
          },
          {
            component: 'berth-controller-manager',
            host: m.elector.fence.holder,
            onError: (msg, err) => log.warn({ err: (err as Error).message }, msg),
          },
        ),
    },
  ],
  exports: [SharedInformers, ControllerManager, CONTROLLER_STORE, EVENT_RECORDER],
})
export class ControllersModule {}
