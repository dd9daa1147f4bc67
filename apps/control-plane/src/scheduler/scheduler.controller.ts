import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { kindFor, type KindInfo } from '@berth/api';
import type { EventRecorder, Informer } from '@berth/controllers';
import type { ResourceStore } from '@berth/store';
import type { Logger } from 'pino';
import { ControllerManager, type Controller } from '../controllers/controller-manager';
import { CONTROLLER_STORE, EVENT_RECORDER } from '../controllers/controllers.module';
import { SharedInformers } from '../controllers/shared-informers';
import { LOGGER } from '../logging/logger';
import { PodScheduler } from './scheduler';

const PODS = kindFor('v1', 'Pod') as KindInfo;
const NODES = kindFor('v1', 'Node') as KindInfo;

/**
 * The scheduler as a controller of the control plane ('scheduler' in --controllers): while this
 * process leads, one PodScheduler term binds pending pods to nodes through the fenced store.
 */
@Injectable()
export class SchedulerController implements Controller, OnModuleInit {
  readonly name = 'scheduler';
  private readonly pods: Informer;
  private readonly nodes: Informer;
  private readonly log: Logger;

  constructor(
    informers: SharedInformers,
    private readonly manager: ControllerManager,
    @Inject(CONTROLLER_STORE) private readonly store: ResourceStore,
    @Inject(EVENT_RECORDER) private readonly recorder: EventRecorder,
    @Inject(LOGGER) log: Logger,
  ) {
    this.pods = informers.for(PODS);
    this.nodes = informers.for(NODES);
    this.log = log.child({ controller: 'scheduler' });
  }

  onModuleInit(): void {
    this.manager.register(this);
  }

  async run(signal: AbortSignal): Promise<void> {
    const term = new PodScheduler({
      pods: this.pods,
      nodes: this.nodes,
      store: this.store,
      events: this.recorder,
      log: this.log,
    });
    await term.run(signal);
  }
}
