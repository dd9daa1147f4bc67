import { EventEmitter } from 'node:events';
import type { ContainerV1, KubeObject, ProbeV1 } from '@berth/api';
import { realClock, type Clock } from '../supervisor';
import type { ProbeExecutor, ProbeTarget } from './probe-executor';
import { containerReadiness, probeSettings, ProbeState, type ProbeKind } from './probe-state';

/** The supervisor's view of a container run that the prober needs. */
export interface ProbedRun {
  id: string;
  state: 'waiting' | 'running' | 'terminated';
  pid?: number;
  startedAt?: string;
}

export interface ProbeEvents {
  record(
    pod: KubeObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    fieldPath?: string,
  ): void;
}

export interface ProbeManagerOptions {
  executor: ProbeExecutor;
  events: ProbeEvents;
  /**
   * Kills the run of container `id` that started at `startedAt` (SIGTERM, SIGKILL after
   * graceSeconds) so that its restart policy restarts it; does nothing if another run is current.
   */
  kill(id: string, startedAt: string, graceSeconds: number): Promise<void>;
  clock?: Clock;
  /** At most this many probes run at once (default 8); the others wait their turn. */
  concurrency?: number;
  log?: { warn(o: object, m: string): void };
}

interface Worker {
  kind: ProbeKind;
  probe: ProbeV1;
  state: ProbeState;
  timer?: unknown;
  inFlight: boolean;
}

interface Entry {
  id: string;
  podUID: string;
  startedAt: string;
  startedAtMs: number;
  pod: KubeObject & { spec: { terminationGracePeriodSeconds?: number; hostNetwork?: boolean } };
  container: ContainerV1;
  target: ProbeTarget;
  workers: Map<ProbeKind, Worker>;
  closed: boolean;
}

interface PriorStatus {
  name: string;
  ready?: boolean;
  state?: { running?: { startedAt?: string } };
}

const LABEL: Record<ProbeKind, string> = { liveness: 'Liveness', readiness: 'Readiness', startup: 'Startup' };

/** A tiny counting semaphore: bounded concurrency for probe executions. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Runs the startup, liveness and readiness probes of every running container, one worker per
 * probe and container run (a restarted container gets fresh workers: initialDelay again). Workers
 * decide with ProbeState; this class times them, runs the probes through the executor with bounded
 * concurrency, records `Unhealthy`/`Killing` events, kills containers whose liveness or startup
 * probe failed, and emits 'change' (pod UID) when a container's ready/started changed.
 */
export class ProbeManager extends EventEmitter<{ change: [string] }> {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;
  private readonly limiter: Limiter;
  private readonly since: number;

  constructor(private readonly o: ProbeManagerOptions) {
    super();
    this.clock = o.clock ?? realClock;
    this.limiter = new Limiter(o.concurrency ?? 8);
    this.since = this.clock.now();
  }

  /**
   * Keeps the workers of one container in line with its current run: starts them for a new run,
   * stops them when it is not running any more. Call whenever the pod is synced.
   */
  update(pod: Entry['pod'], container: ContainerV1, run: ProbedRun): void {
    const cur = this.entries.get(run.id);
    if (run.state !== 'running' || !run.startedAt || !run.pid) {
      if (cur) this.remove(run.id);
      return;
    }
    if (cur && cur.startedAt === run.startedAt) {
      cur.pod = pod;
      return;
    }
    if (cur) this.remove(run.id);
    const probes: [ProbeKind, ProbeV1 | undefined][] = [
      ['startup', container.startupProbe],
      ['liveness', container.livenessProbe],
      ['readiness', container.readinessProbe],
    ];
    const e: Entry = {
      id: run.id,
      podUID: pod.metadata.uid ?? '',
      startedAt: run.startedAt,
      startedAtMs: Date.parse(run.startedAt),
      pod,
      container,
      target: {
        id: run.id,
        pid: run.pid,
        hostNetwork: !!pod.spec.hostNetwork,
        ports: container.ports ?? [],
      },
      workers: new Map(),
      closed: false,
    };
    for (const [kind, probe] of probes)
      if (probe)
        e.workers.set(kind, {
          kind,
          probe,
          state: new ProbeState(kind, probeSettings(probe)),
          inFlight: false,
        });
    if (!e.workers.size) return;
    // a run adopted from before this agent started, reported ready then: it stays ready (and
    // started) until its probes say otherwise, so an agent restart does not flap every pod
    const prior = (pod.status as { containerStatuses?: PriorStatus[] } | undefined)?.containerStatuses?.find(
      (s) => s.name === container.name,
    );
    const priorStart = prior?.state?.running?.startedAt;
    if (
      e.startedAtMs < this.since &&
      prior?.ready === true &&
      priorStart &&
      Date.parse(priorStart) === e.startedAtMs
    )
      for (const w of e.workers.values()) if (w.kind !== 'liveness') w.state.result = 'success';
    this.entries.set(run.id, e);
    for (const w of e.workers.values()) {
      const at = w.state.firstProbeAt(e.startedAtMs);
      this.schedule(e, w, Math.max(0, at - this.clock.now()));
    }
  }

  /**
   * A container's `started` and `ready` for its status: from its probes when it has any, else
   * both true while it runs.
   */
  status(container: ContainerV1, run: ProbedRun): { started: boolean; ready: boolean } {
    if (run.state !== 'running') return { started: false, ready: false };
    const e = this.entries.get(run.id);
    // no workers (yet, or no more: the run is being killed): what the probes start from
    if (!e || e.startedAt !== run.startedAt)
      return containerReadiness({
        startup: container.startupProbe ? 'unknown' : undefined,
        readiness: container.readinessProbe ? 'failure' : undefined,
      });
    return this.readiness(e);
  }

  private readiness(e: Entry): { started: boolean; ready: boolean } {
    return containerReadiness({
      startup: e.workers.get('startup')?.state.result,
      readiness: e.workers.get('readiness')?.state.result,
    });
  }

  /** Whether a container has probe workers for this run (for tests and diagnostics). */
  has(id: string): boolean {
    const e = this.entries.get(id);
    return !!e && !e.closed;
  }

  remove(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.halt(e);
    this.entries.delete(id);
  }

  /** Stops probing a run but keeps its last results (a run being killed is not probed again). */
  private halt(e: Entry): void {
    e.closed = true;
    for (const w of e.workers.values()) if (w.timer !== undefined) this.clock.clearTimeout(w.timer);
  }

  removePod(uid: string): void {
    for (const e of [...this.entries.values()]) if (e.podUID === uid) this.remove(e.id);
  }

  close(): void {
    for (const id of [...this.entries.keys()]) this.remove(id);
  }

  private schedule(e: Entry, w: Worker, delayMs: number): void {
    w.timer = this.clock.setTimeout(() => {
      w.timer = undefined;
      if (e.closed) return;
      // fixed rate: the next tick is due a period after this one, whatever this probe takes
      this.schedule(e, w, w.state.settings.periodMs);
      void this.tick(e, w);
    }, delayMs);
  }

  private async tick(e: Entry, w: Worker): Promise<void> {
    if (w.inFlight) return;
    const started = this.readiness(e).started;
    if (!w.state.shouldProbe(e.startedAtMs, this.clock.now(), started)) return;
    w.inFlight = true;
    let out;
    try {
      out = await this.limiter.run(() => this.o.executor.run(w.probe, e.target, w.state.settings.timeoutMs));
    } catch (err) {
      out = { outcome: 'failure' as const, message: (err as Error).message };
    } finally {
      w.inFlight = false;
    }
    if (e.closed) return;
    const field = `spec.containers{${e.container.name}}`;
    if (out.outcome === 'failure')
      this.o.events.record(
        e.pod,
        'Warning',
        'Unhealthy',
        `${LABEL[w.kind]} probe failed: ${out.message}`,
        field,
      );
    const d = w.state.record(out.outcome);
    if (d.changed && w.kind !== 'liveness') this.emit('change', e.podUID);
    if (!d.restart) return;
    this.o.events.record(
      e.pod,
      'Normal',
      'Killing',
      `Container ${e.container.name} failed ${w.kind} probe, will be restarted`,
      field,
    );
    // this run is over for the prober (a sync meanwhile must not probe it again); the restarted
    // run gets fresh workers
    this.halt(e);
    const grace = w.probe.terminationGracePeriodSeconds ?? e.pod.spec.terminationGracePeriodSeconds ?? 30;
    await this.o
      .kill(e.id, e.startedAt, grace)
      .catch((err: unknown) =>
        this.o.log?.warn(
          { container: e.id, err: (err as Error).message },
          `killing after a failed ${w.kind} probe failed`,
        ),
      );
  }
}
