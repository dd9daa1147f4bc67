export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

export interface RestartHistory {
  /** Restarts so far (Kubernetes' restartCount; never goes down). */
  restartCount: number;
  /** Restarts since the backoff last reset; defaults to restartCount. */
  crashCount?: number;
  /** When the run that just ended started (ms since epoch). */
  lastStartedAt?: number;
  /** When it ended (ms since epoch); defaults to now. */
  lastExitAt?: number;
}

export interface BackoffConfig {
  initialDelayMs: number;
  maxDelayMs: number;
  /** A run this long resets the backoff. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffConfig = {
  initialDelayMs: 1000,
  maxDelayMs: 60_000,
  resetAfterMs: 600_000,
};

export interface RestartDecision {
  restart: boolean;
  delayMs: number;
  /** CrashLoopBackOff while waiting out a delay; Completed / Error when the container stays down. */
  reason?: 'CrashLoopBackOff' | 'Completed' | 'Error';
  /** The crashCount to store once this restart happens (backoff steps since the last reset). */
  crashCount: number;
}

/**
 * Whether and when to restart a container whose process exited. Pure.
 * Berth's backoff: the first restart is at once, then 1 s, 2 s, 4 s … capped at 60 s; a run of
 * 10 minutes or more resets it (the next restart is at once again).
 */
export function restartDecision(
  policy: RestartPolicy,
  exitCode: number,
  history: RestartHistory,
  now: number,
  cfg: BackoffConfig = DEFAULT_BACKOFF,
): RestartDecision {
  const crashes = history.crashCount ?? history.restartCount;
  if (policy === 'Never' || (policy === 'OnFailure' && exitCode === 0))
    return {
      restart: false,
      delayMs: 0,
      reason: exitCode === 0 ? 'Completed' : 'Error',
      crashCount: crashes,
    };
  const ranFor =
    history.lastStartedAt === undefined ? 0 : (history.lastExitAt ?? now) - history.lastStartedAt;
  const step = ranFor >= cfg.resetAfterMs ? 0 : crashes;
  if (step === 0) return { restart: true, delayMs: 0, crashCount: 1 };
  // 2 ** step overflows to Infinity long before it matters; min() caps it
  const delayMs = Math.min(cfg.maxDelayMs, cfg.initialDelayMs * 2 ** Math.min(step - 1, 52));
  return { restart: true, delayMs, reason: 'CrashLoopBackOff', crashCount: step + 1 };
}
