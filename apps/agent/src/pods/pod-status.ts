import type { ContainerStateV1, ContainerStatusV1, PodConditionV1, PodPhase, PodStatusV1 } from '@berth/api';
import type { ContainerRecord } from '../supervisor';
import type { Pod } from './container-config';

/** What the agent knows of one container before or while the supervisor runs it. */
export interface ContainerView {
  name: string;
  /** As written in the pod spec. */
  image: string;
  /** `<repo>@sha256:…` once the image is known. */
  imageID?: string;
  /** The supervisor's record, once the container was handed to it. */
  record?: ContainerRecord;
  /** Why it is not running yet (ContainerCreating, ErrImagePull, ImagePullBackOff, CreateContainerConfigError, …). */
  waiting?: { reason: string; message?: string };
  /** From the prober while it runs: readiness probe passed (default true: no probe). */
  ready?: boolean;
  /** From the prober while it runs: startup probe passed (default true: no probe). */
  started?: boolean;
}

function terminatedState(
  t: { exitCode: number; reason?: string; message?: string; startedAt?: string; finishedAt?: string },
  containerID: string,
): ContainerStateV1 {
  return {
    terminated: {
      exitCode: t.exitCode,
      reason: t.reason,
      ...(t.message ? { message: t.message } : {}),
      ...(t.startedAt ? { startedAt: t.startedAt } : {}),
      ...(t.finishedAt ? { finishedAt: t.finishedAt } : {}),
      containerID,
    },
  };
}

/** One container's Kubernetes status. Pure. */
export function containerStatus(v: ContainerView): ContainerStatusV1 {
  const r = v.record;
  const base = { name: v.name, image: v.image, imageID: v.imageID ?? '' };
  if (!r) {
    return {
      ...base,
      state: {
        waiting: {
          reason: v.waiting?.reason ?? 'ContainerCreating',
          ...(v.waiting?.message ? { message: v.waiting.message } : {}),
        },
      },
      ready: false,
      restartCount: 0,
      started: false,
    };
  }
  const containerID = `runc://${r.id}`;
  let state: ContainerStateV1;
  if (r.state === 'running') state = { running: { startedAt: r.startedAt } };
  else if (r.state === 'terminated')
    state = terminatedState(
      {
        exitCode: r.exitCode ?? 0,
        reason: r.reason,
        message: r.message,
        startedAt: r.startedAt,
        finishedAt: r.finishedAt,
      },
      containerID,
    );
  else
    state = {
      waiting: { reason: r.reason ?? 'ContainerCreating', ...(r.message ? { message: r.message } : {}) },
    };
  const out: ContainerStatusV1 = {
    ...base,
    state,
    ready: r.state === 'running' && (v.ready ?? true),
    restartCount: r.restartCount,
    started: r.state === 'running' && (v.started ?? true),
  };
  if (r.lastState) out.lastState = terminatedState(r.lastState, containerID);
  if (r.state !== 'waiting' || r.lastState) out.containerID = containerID;
  return out;
}

/**
 * The pod phase from its containers, as the kubelet decides it: Pending while any container has
 * never started, Running while any runs or will be restarted, Succeeded when all ended with 0 and
 * none will restart, Failed when all ended and one failed.
 */
export function podPhase(views: ContainerView[]): PodPhase {
  let pending = 0;
  let running = 0;
  let succeeded = 0;
  let failed = 0;
  for (const v of views) {
    const r = v.record;
    if (!r) pending++;
    else if (r.state === 'running') running++;
    else if (r.state === 'terminated') {
      if (r.exitCode === 0) succeeded++;
      else failed++;
    } else if (r.lastState)
      running++; // waiting to be restarted
    else pending++;
  }
  if (pending > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (failed > 0) return 'Failed';
  if (succeeded > 0) return 'Succeeded';
  return 'Pending';
}

function condition(
  type: string,
  ok: boolean,
  prev: PodConditionV1[] | undefined,
  now: string,
  reason?: string,
): PodConditionV1 {
  const status = ok ? 'True' : 'False';
  const old = prev?.find((c) => c.type === type);
  return {
    type,
    status,
    lastProbeTime: null,
    lastTransitionTime: old && old.status === status && old.lastTransitionTime ? old.lastTransitionTime : now,
    ...(reason ? { reason } : {}),
  };
}

/**
 * The pod's status as the agent reports it. Pure: `now` stamps transitions; what did not change
 * keeps its previous timestamps, so a repeated call with the same input gives the same status.
 */
export function buildPodStatus(
  pod: Pod,
  views: ContainerView[],
  hostIP: string,
  now: string,
  inits: ContainerView[] = [],
): PodStatusV1 {
  const prev = pod.status as PodStatusV1 | undefined;
  // init containers: each must end with 0 before the others run; one that ends otherwise for good fails the pod
  const initialized = inits.every((v) => v.record?.state === 'terminated' && v.record.exitCode === 0);
  const initFailed = inits.some((v) => v.record?.state === 'terminated' && v.record.exitCode !== 0);
  const phase: PodPhase = initFailed ? 'Failed' : initialized ? podPhase(views) : 'Pending';
  const statuses = views.map(containerStatus);
  const allReady = initialized && statuses.length > 0 && statuses.every((s) => s.ready);
  const done = phase === 'Succeeded' || phase === 'Failed';
  const notReadyReason = done ? 'PodCompleted' : allReady ? undefined : 'ContainersNotReady';
  const conditions = [
    condition(
      'Initialized',
      initialized,
      prev?.conditions,
      now,
      done && initialized ? 'PodCompleted' : initialized ? undefined : 'ContainersNotInitialized',
    ),
    condition('Ready', allReady, prev?.conditions, now, notReadyReason),
    condition('ContainersReady', allReady, prev?.conditions, now, notReadyReason),
    condition('PodScheduled', true, prev?.conditions, now),
  ];
  const podIP = pod.spec.hostNetwork ? hostIP : undefined;
  const status: PodStatusV1 = {
    phase,
    conditions,
    hostIP,
    ...(podIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
    startTime: prev?.startTime ?? now,
    ...(inits.length ? { initContainerStatuses: inits.map(containerStatus) } : {}),
    containerStatuses: statuses,
    qosClass: qosClass(pod),
  };
  return status;
}

/** Guaranteed when every container has equal cpu and memory requests and limits, BestEffort with none. */
export function qosClass(pod: Pod): string {
  let any = false;
  let guaranteed = true;
  for (const c of pod.spec.containers ?? []) {
    const lim = c.resources?.limits ?? {};
    const req = { ...lim, ...(c.resources?.requests ?? {}) };
    if (Object.keys(lim).length || Object.keys(c.resources?.requests ?? {}).length) any = true;
    for (const r of ['cpu', 'memory'])
      if (lim[r] === undefined || String(req[r]) !== String(lim[r])) guaranteed = false;
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}
