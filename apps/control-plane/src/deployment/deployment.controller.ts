import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { runReconciler, type EventRecorder } from '@berth/controllers';
import type { ResourceStore } from '@berth/store';
import type { Logger } from 'pino';
import { ControllerManager, type Controller } from '../controllers/controller-manager';
import { CONTROLLER_STORE, EVENT_RECORDER } from '../controllers/controllers.module';
import { SharedInformers } from '../controllers/shared-informers';
import { LOGGER } from '../logging/logger';
import { DEPLOYMENT_KIND, DeploymentReconciler, POD_KIND, REPLICASET_KIND } from './deployment.reconciler';

/** Every Deployment is looked at again this often even when nothing changed (level-triggered). */
const RESYNC_MS = 30_000;

/**
 * The Deployment controller (`--controllers deployment`): Deployment → ReplicaSets named
 * `<name>-<pod-template-hash>`, rolling updates and Recreate, revisions and history, status.
 */
@Injectable()
export class DeploymentController implements Controller, OnModuleInit {
  readonly name = 'deployment';
  private readonly reconciler: DeploymentReconciler;
  private readonly log: Logger;

  constructor(
    private readonly manager: ControllerManager,
    informers: SharedInformers,
    @Inject(CONTROLLER_STORE) store: ResourceStore,
    @Inject(EVENT_RECORDER) recorder: EventRecorder,
    @Inject(LOGGER) log: Logger,
  ) {
    this.log = log.child({ controller: 'deployment' });
    this.reconciler = new DeploymentReconciler({
      deployments: informers.for(DEPLOYMENT_KIND),
      replicaSets: informers.for(REPLICASET_KIND),
      pods: informers.for(POD_KIND),
      store,
      recorder,
      log: this.log,
    });
  }

  onModuleInit(): void {
    this.manager.register(this);
  }

  async run(signal: AbortSignal): Promise<void> {
    await runReconciler(
      {
        name: this.name,
        reconcile: this.reconciler.reconcile,
        watches: this.reconciler.watches(),
        resyncMs: RESYNC_MS,
        onError: (key, err) =>
          this.log.warn({ deployment: key, err: (err as Error).message }, 'deployment sync failed'),
      },
      signal,
    );
  }
}
