import type { ProbeV1 } from '@berth/api';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';

/** What one probe execution found. */
export type Outcome = 'success' | 'failure';

/** A worker's reported result: unknown until a threshold is reached (startup), see initialResult. */
export type ProbeResult = 'success' | 'failure' | 'unknown';

/** A probe's timing settings with the Kubernetes defaults filled in, in milliseconds. */
export interface ProbeSettings {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

/** Kubernetes defaults: initialDelay 0, period 10 s, timeout 1 s, success 1, failure 3. */
export function probeSettings(p: ProbeV1): ProbeSettings {
  return {
    initialDelayMs: (p.initialDelaySeconds ?? 0) * 1000,
    periodMs: Math.max(1, p.periodSeconds ?? 10) * 1000,
    timeoutMs: Math.max(1, p.timeoutSeconds ?? 1) * 1000,
    successThreshold: Math.max(1, p.successThreshold ?? 1),
    failureThreshold: Math.max(1, p.failureThreshold ?? 3),
  };
}

/** The kubelet's initial results: a liveness probe passes, a readiness probe fails, startup is unknown. */
export function initialResult(kind: ProbeKind): ProbeResult {
  return kind === 'liveness' ? 'success' : kind === 'readiness' ? 'failure' : 'unknown';
}

/** What recording one outcome decided. */
export interface Decision {
  /** The reported result changed (readiness/startup: the pod's status must be written). */
  changed: boolean;
  /** Liveness or startup failed failureThreshold times in a row: kill the container for a restart. */
  restart: boolean;
}

/**
 * One probe of one container run, as the kubelet's probe worker decides it. Pure: it is given
 * outcomes and times and says what they mean.
 *
 * - No probe before the container has run for initialDelay; liveness and readiness do not run
 *   until the startup probe (if any) has succeeded, and a startup probe stops once it has.
 * - The reported result flips only after successThreshold successes or failureThreshold failures
 *   in a row.
 * - A liveness/startup failure that reaches the threshold asks for a restart once and then holds
 *   (no more probes) until a new run of the container gets a fresh worker.
 */
export class ProbeState {
  result: ProbeResult;
  private last?: Outcome;
  private run = 0;
  private onHold = false;

  constructor(
    readonly kind: ProbeKind,
    readonly settings: ProbeSettings,
  ) {
    this.result = initialResult(kind);
  }

  /** When this worker should first probe, given the container's start. */
  firstProbeAt(startedAtMs: number): number {
    return startedAtMs + this.settings.initialDelayMs;
  }

  /** Whether a probe should run now. `started`: the container's startup probe succeeded (or it has none). */
  shouldProbe(startedAtMs: number, nowMs: number, started: boolean): boolean {
    if (this.onHold) return false;
    if (nowMs < this.firstProbeAt(startedAtMs)) return false;
    if (this.kind === 'startup') return this.result !== 'success';
    return started;
  }

  /** Records one outcome and says what follows. */
  record(outcome: Outcome): Decision {
    if (this.onHold) return { changed: false, restart: false };
    this.run = this.last === outcome ? this.run + 1 : 1;
    this.last = outcome;
    const threshold = outcome === 'success' ? this.settings.successThreshold : this.settings.failureThreshold;
    if (this.run < threshold) return { changed: false, restart: false };
    const changed = this.result !== outcome;
    this.result = outcome;
    if (outcome === 'failure' && this.kind !== 'readiness') {
      // the container is about to be killed: stop probing this run
      this.onHold = true;
      this.run = 0;
      return { changed, restart: true };
    }
    return { changed, restart: false };
  }

  get held(): boolean {
    return this.onHold;
  }
}

/**
 * A running container's `started` and `ready` from its probes' results, as the kubelet reports
 * them: started once the startup probe succeeded (at once without one); ready once started and
 * its readiness probe succeeded (at once without one).
 */
export function containerReadiness(probes: { startup?: ProbeResult; readiness?: ProbeResult }): {
  started: boolean;
  ready: boolean;
} {
  const started = probes.startup === undefined || probes.startup === 'success';
  const ready = started && (probes.readiness === undefined || probes.readiness === 'success');
  return { started, ready };
}
