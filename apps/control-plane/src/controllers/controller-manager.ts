import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { RESOURCE_STORE, type ResourceStore } from '@berth/store';
import type { Logger } from 'pino';
import { SERVER_CONFIG, type ServerConfig } from '../config/config';
import { LOGGER } from '../logging/logger';
import { LeaderElector } from './leader-election';
import { SharedInformers } from './shared-informers';

/** What every controller module registers with the manager. */
export interface Controller {
  /** One of CONTROLLER_NAMES: selectable with --controllers. */
  readonly name: string;
  /** Runs while this process leads (informers synced); must return soon after signal aborts. */
  run(signal: AbortSignal): Promise<void>;
}

export const CONTROLLER_NAMES = [
  'scheduler',
  'replicaset',
  'deployment',
  'nodelifecycle',
  'garbagecollector',
  'eventttl',
  'sync',
] as const;

/** Which controllers --controllers enables (`*`, `none`, `a,b`, `*,-a`). Unknown names are an error. */
export function enabledControllers(flag: string): Set<string> {
  const out = new Set<string>();
  if (flag === 'none') return out;
  for (const part of flag.split(',').filter(Boolean)) {
    const name = part.replace(/^-/, '');
    if (name !== '*' && !(CONTROLLER_NAMES as readonly string[]).includes(name)) {
      throw new Error(
        `--controllers: unknown controller ${JSON.stringify(name)}; known: ${CONTROLLER_NAMES.join(', ')}`,
      );
    }
    const names = name === '*' ? [...CONTROLLER_NAMES] : [name];
    for (const n of names) {
      if (part.startsWith('-')) out.delete(n);
      else out.add(n);
    }
  }
  return out;
}

/**
 * This process's holder identity: host and port (a restarted control plane on the same address
 * takes its own lease back at once, and two live ones cannot share an address); with --port 0 the
 * port is not known up front, so a random suffix keeps two such processes apart.
 */
export function leaderIdentity(host: string, port: number): string {
  return port ? `${host}_${port}` : `${host}_${randomBytes(4).toString('hex')}`;
}

export const LEADER_LEASE_NAMESPACE = 'kube-system';
export const LEADER_LEASE_NAME = 'berth-controller-manager';

/**
 * Runs the registered controllers while this control plane holds the leader lease. Every
 * control-plane process serves the API; only the leader reconciles. Losing the lease stops the
 * controllers (their writes are fenced anyway); gaining it starts them again from fresh caches'
 * current state (reconcile is level-triggered, so nothing from the previous term is needed).
 */
@Injectable()
export class ControllerManager implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly controllers: Controller[] = [];
  readonly elector: LeaderElector;
  private term?: { abort: AbortController; done: Promise<void> };
  private readonly enabled: Set<string>;

  constructor(
    @Inject(RESOURCE_STORE) store: ResourceStore,
    @Inject(SERVER_CONFIG) private readonly config: ServerConfig,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly informers: SharedInformers,
  ) {
    this.enabled = enabledControllers(config.controllers);
    this.elector = new LeaderElector({
      store,
      identity: leaderIdentity(hostname(), config.port),
      namespace: LEADER_LEASE_NAMESPACE,
      name: LEADER_LEASE_NAME,
      leaseDurationMs: config.leaderLeaseDurationMs,
      renewDeadlineMs: Math.min(config.leaderRenewDeadlineMs, config.leaderLeaseDurationMs - 1),
      retryPeriodMs: config.leaderRetryPeriodMs,
      onStartedLeading: () => this.startTerm(),
      onStoppedLeading: () => this.endTerm(),
      log: this.log.child({ subsystem: 'leader-election' }),
    });
  }

  isEnabled(name: string): boolean {
    return this.enabled.has(name);
  }

  /** Called by each controller module; disabled controllers are ignored. */
  register(c: Controller): void {
    if (this.isEnabled(c.name)) this.controllers.push(c);
  }

  onApplicationBootstrap(): void {
    if (!this.controllers.length) {
      this.log.info('no controllers enabled: this control plane only serves the API');
      return;
    }
    this.elector.start();
  }

  private startTerm(): void {
    const abort = new AbortController();
    const done = (async () => {
      await this.informers.start();
      if (abort.signal.aborted) return;
      this.log.info({ controllers: this.controllers.map((c) => c.name) }, 'controllers starting');
      await Promise.all(
        this.controllers.map((c) =>
          c
            .run(abort.signal)
            .catch((e: unknown) =>
              this.log.error({ controller: c.name, err: (e as Error).message }, 'controller failed'),
            ),
        ),
      );
    })();
    this.term = { abort, done };
  }

  private endTerm(): void {
    const t = this.term;
    this.term = undefined;
    if (!t) return;
    this.log.warn('controllers stopping: this control plane no longer leads');
    t.abort.abort();
  }

  async beforeApplicationShutdown(): Promise<void> {
    const t = this.term;
    await this.elector.stop(); // ends the term (endTerm) and releases the lease
    t?.abort.abort();
    await t?.done;
    this.informers.stop();
  }
}
