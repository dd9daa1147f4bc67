import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of the API server, in a registry of its own (not prom-client's global). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'berth_apiserver_requests_total',
    help: 'API requests by verb, resource and HTTP code',
    labelNames: ['verb', 'resource', 'code'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'berth_apiserver_request_duration_seconds',
    help: 'API request latency by verb, resource and HTTP code (watches excluded)',
    labelNames: ['verb', 'resource', 'code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly storeOps = new Counter({
    name: 'berth_store_operations_total',
    help: 'Store operations by op and result',
    labelNames: ['op', 'result'] as const,
    registers: [this.registry],
  });
  readonly storeLatency = new Histogram({
    name: 'berth_store_operation_duration_seconds',
    help: 'Store operation latency by op',
    labelNames: ['op'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly watchers = new Gauge({
    name: 'berth_apiserver_watchers',
    help: 'Watch streams currently open, by resource',
    labelNames: ['resource'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'berth_' });
  }

  observeRequest(verb: string, resource: string, code: number, seconds: number): void {
    const labels = { verb, resource, code: String(code) };
    this.requests.inc(labels);
    // A watch lasts as long as its client wants: its duration is not a latency.
    if (verb !== 'WATCH') this.latency.observe(labels, seconds);
  }

  observeStoreOp(op: string, result: string, seconds?: number): void {
    this.storeOps.inc({ op, result });
    if (seconds !== undefined) this.storeLatency.observe({ op }, seconds);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
