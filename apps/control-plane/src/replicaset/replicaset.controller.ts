import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { runReconciler, type EventRecorder } from '@berth/controllers';
import type { ResourceStore } from '@berth/store';
import type { Logger } from 'pino';
import { ControllerManager, type Controller } from '../controllers/controller-manager';
import { CONTROLLER_STORE, EVENT_RECORDER } from '../controllers/controllers.module';
import { SharedInformers } from '../controllers/shared-informers';
import { LOGGER } from '../logging/logger';
import { PODS, REPLICASETS, ReplicaSetReconciler } from './replicaset.reconciler';

/** Concurrent ReplicaSet reconciles (kube-controller-manager's --concurrent-replicaset-syncs). */
export const REPLICASET_WORKERS = 5;

/**
 * The ReplicaSet controller: keeps spec.replicas active pods for every ReplicaSet, replacing pods
 * that fail or vanish and removing the surplus, and reports their counts in status.
 */
@Injectable()
export class ReplicaSetController implements Controller, OnModuleInit {
  readonly name = 'replicaset';
  readonly reconciler: ReplicaSetReconciler;

  constructor(
    informers: SharedInformers,
    private readonly manager: ControllerManager,
    @Inject(CONTROLLER_STORE) store: ResourceStore,
    @Inject(EVENT_RECORDER) events: EventRecorder,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.reconciler = new ReplicaSetReconciler({
      replicaSets: informers.for(REPLICASETS),
      pods: informers.for(PODS),
      store,
      events,
      log: log.child({ controller: 'replicaset' }),
    });
  }

  onModuleInit(): void {
    this.manager.register(this);
  }

  async run(signal: AbortSignal): Promise<void> {
    // Observe before runReconciler adds its handlers (handlers run in the order added).
    const detach = this.reconciler.attach();
    try {
      await runReconciler(
        {
          name: this.name,
          workers: REPLICASET_WORKERS,
          reconcile: (key, s) => this.reconciler.reconcile(key, s),
          watches: this.reconciler.watches(),
          onError: (key, err) =>
            this.log.warn(
              { controller: this.name, replicaset: key, err: (err as Error).message },
              'replicaset: reconcile failed',
            ),
        },
        signal,
      );
    } finally {
      detach();
    }
  }
}
