import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { kindFor, type KindInfo } from '@berth/api';
import type { EventRecorder, Informer } from '@berth/controllers';
import type { ResourceStore } from '@berth/store';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram } from 'prom-client';
import { ControllerManager, type Controller } from '../controllers/controller-manager';
import { CONTROLLER_STORE, EVENT_RECORDER } from '../controllers/controllers.module';
import { SharedInformers } from '../controllers/shared-informers';
import { LOGGER } from '../logging/logger';
import { MetricsService } from '../metrics/metrics.service';
import { PodScheduler, type SchedulerMetrics } from './scheduler';

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
  private readonly metrics: SchedulerMetrics;
  private term?: PodScheduler;

  constructor(
    informers: SharedInformers,
    private readonly manager: ControllerManager,
    @Inject(CONTROLLER_STORE) private readonly store: ResourceStore,
    @Inject(EVENT_RECORDER) private readonly recorder: EventRecorder,
    @Inject(LOGGER) log: Logger,
    metrics: MetricsService,
  ) {
    this.pods = informers.for(PODS);
    this.nodes = informers.for(NODES);
    this.log = log.child({ controller: 'scheduler' });
    const registers = [metrics.registry];
    const attempts = new Counter({
      name: 'berth_scheduler_schedule_attempts_total',
      help: 'Scheduling attempts by result (scheduled, unschedulable, error: the binding failed)',
      labelNames: ['result'] as const,
      registers,
    });
    const binding = new Histogram({
      name: 'berth_scheduler_binding_duration_seconds',
      help: 'Time from a decision to the acknowledged binding',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    const pending = () => this.term?.pending ?? { active: 0, unschedulable: 0 };
    new Gauge({
      name: 'berth_scheduler_pending_pods',
      help: 'Pods waiting for a node: active (queued for a decision) or unschedulable (backing off)',
      labelNames: ['queue'] as const,
      registers,
      collect() {
        const p = pending();
        this.set({ queue: 'active' }, p.active);
        this.set({ queue: 'unschedulable' }, p.unschedulable);
      },
    });
    this.metrics = {
      attempt: (result) => attempts.inc({ result }),
      bindingSeconds: (s) => binding.observe(s),
    };
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
      metrics: this.metrics,
    });
    this.term = term;
    try {
      await term.run(signal);
    } finally {
      if (this.term === term) this.term = undefined;
    }
  }
}
