import { ApiError, kindFor, type KubeObject } from '@berth/api';
import { ConnectionError, RequestTimeoutError, listAndWatch, type BerthClient } from '@berth/client';
import { WorkQueue } from '@berth/controllers';
import {
  DEFAULT_HOLLOW_CAPACITY,
  HOLLOW_LABEL,
  HOLLOW_LEASE_DURATION_SECONDS,
  NODE_LEASE_NAMESPACE,
  buildHollowLease,
  buildHollowNode,
  buildHollowNodeStatus,
  buildHollowPodStatus,
  hollowNodeName,
  microTime,
  needsHollowStatus,
  type HollowCapacity,
} from './hollow-status';

const NODES = kindFor('v1', 'Node')!;
const PODS = kindFor('v1', 'Pod')!;
const LEASES = kindFor('coordination.k8s.io/v1', 'Lease')!;

export interface HollowLog {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
}

export interface HollowNodesOptions {
  client: BerthClient;
  /** How many nodes this process simulates. */
  count: number;
  /** Node names are prefix + index (zero-padded), e.g. hollow-0000 … hollow-0999. */
  prefix: string;
  /** Each node renews its Lease once per interval; the renewals of all nodes are spread over it. */
  heartbeatIntervalMs: number;
  /** Capacity = allocatable of every node; default cpu 32, memory 256Gi, pods 110. */
  capacity?: Partial<HollowCapacity>;
  /**
   * How often each node rewrites its status (Ready lastHeartbeatTime) although nothing changed;
   * default 5 min (the kubelet's nodeStatusReportFrequency), 0 = never. A node whose Ready
   * condition is not True on the server (the node lifecycle controller marked it Unknown) is
   * rewritten at its next heartbeat, and a deleted Node is registered again, whatever this is.
   */
  nodeStatusIntervalMs?: number;
  /** Pod status writes in flight at most; default 32. */
  statusConcurrency?: number;
  /**
   * Node/Lease registrations in flight at most at start-up; default 16. Renewals have no global
   * cap (like 1,000 kubelets, each with its own): each node has at most one in flight, and the
   * rate is count / heartbeat interval.
   */
  registerConcurrency?: number;
  log: HollowLog;
}

export interface HollowNodesStats {
  nodes: number;
  /** Pods reported Running (successful status writes). */
  podsStarted: number;
  statusConflicts: number;
  statusFailures: number;
  /** Pods waiting for their status write. */
  pending: number;
  leaseRenewals: number;
  leaseFailures: number;
  /** Renewals not started because the node's previous one was still in flight (a slow server). */
  leaseRenewalsLate: number;
}

export interface HollowNodes {
  readonly nodeNames: readonly string[];
  stats(): HollowNodesStats;
  /** Stops renewals and the pod watch; waits for writes in flight. The Node objects stay. */
  stop(): Promise<void>;
}

function isRetryable(e: unknown): boolean {
  if (e instanceof ConnectionError || e instanceof RequestTimeoutError) return true;
  return e instanceof ApiError && (e.code >= 500 || e.code === 429);
}

function is(e: unknown, code: number): boolean {
  return e instanceof ApiError && e.code === code;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** fn, retried with backoff (250 ms doubling to 5 s) while it fails with a retryable error. */
async function withRetry<T>(fn: () => Promise<T>, signal: AbortSignal, attempts = 10): Promise<T> {
  let delay = 250;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (signal.aborted || i >= attempts || !isRetryable(e)) throw e;
      await sleep(delay, signal);
      delay = Math.min(delay * 2, 5000);
    }
  }
}

/** Runs fn over items with at most `limit` in flight; rejects with the first error. */
async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<void>,
) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

const keyOf = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;

/**
 * Starts `count` hollow nodes in this process: a simulated runtime for scale tests only (never the
 * default). Registers the Node objects (Ready, fixed capacity, label berth.dev/hollow=true), one
 * Lease per node in kube-node-lease renewed every heartbeat interval (spread over it), a watch of
 * its own Nodes (Ready written back when someone marks it Unknown, a deleted Node registered
 * again), and one watch of all pods: each pod bound to one of these nodes is reported Running
 * through /status (bounded concurrency, Conflict answered by re-reading). Resolves once every
 * node is registered and the pod watch has synced.
 */
export async function startHollowNodes(opts: HollowNodesOptions): Promise<HollowNodes> {
  const { client, log } = opts;
  if (!Number.isInteger(opts.count) || opts.count < 1) throw new Error('count: must be a whole number ≥ 1');
  if (!(opts.heartbeatIntervalMs >= 100)) throw new Error('heartbeatIntervalMs: must be ≥ 100');
  const capacity: HollowCapacity = { ...DEFAULT_HOLLOW_CAPACITY, ...opts.capacity };
  const names = Array.from({ length: opts.count }, (_, i) => hollowNodeName(opts.prefix, i, opts.count));
  const isOurs = new Set(names);
  const isHollowNode = (n: string): boolean => isOurs.has(n);
  const abort = new AbortController();
  const signal = abort.signal;
  const readySince = new Date();
  const st: Omit<HollowNodesStats, 'pending'> = {
    nodes: opts.count,
    podsStarted: 0,
    statusConflicts: 0,
    statusFailures: 0,
    leaseRenewals: 0,
    leaseFailures: 0,
    leaseRenewalsLate: 0,
  };
  const limit = opts.registerConcurrency ?? 16;
  /** The last Lease object of each node (the next renewal PUTs it with a new renewTime). */
  const leases = new Map<string, KubeObject>();

  // --- registration ---------------------------------------------------------------------------
  try {
    await withRetry(
      () => client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NODE_LEASE_NAMESPACE } }),
      signal,
    );
  } catch (e) {
    if (!is(e, 409)) throw e;
  }

  const writeNodeStatus = async (name: string, i: number): Promise<void> => {
    const status = buildHollowNodeStatus(i, capacity, new Date(), readySince);
    await client.patch(NODES, undefined, name, { status }, 'merge', { subresource: 'status' });
  };

  await forEachLimit(names, limit, async (name, i) => {
    await withRetry(async () => {
      try {
        const created = await client.create(buildHollowNode(name, i, capacity, readySince));
        if (!created.status?.conditions?.length) await writeNodeStatus(name, i);
      } catch (e) {
        if (!is(e, 409)) throw e;
        await writeNodeStatus(name, i); // a node of an earlier run: take it over
      }
    }, signal);
    await withRetry(() => renewLease(name), signal);
  });
  log.info({ nodes: opts.count, prefix: opts.prefix }, 'hollow nodes registered');

  /**
   * One renewal as the kubelet does it: PUT of the last Lease we have with a new renewTime (one
   * read and one write on the server, no patch); on Conflict read it again, on NotFound create it.
   */
  async function renewLease(name: string): Promise<void> {
    let cur = leases.get(name);
    for (let attempt = 0; attempt < 3; attempt++) {
      if (!cur) {
        try {
          cur = await client.get(LEASES, NODE_LEASE_NAMESPACE, name);
        } catch (e) {
          if (!is(e, 404)) throw e;
          try {
            leases.set(name, await client.create(buildHollowLease(name, microTime())));
            return;
          } catch (e2) {
            if (!is(e2, 409)) throw e2;
            continue; // created meanwhile: read it
          }
        }
      }
      const { managedFields: _mf, ...metadata } = cur.metadata;
      void _mf;
      const spec = {
        ...cur.spec,
        holderIdentity: name,
        leaseDurationSeconds: HOLLOW_LEASE_DURATION_SECONDS,
        renewTime: microTime(),
      };
      try {
        leases.set(name, await client.update({ ...cur, metadata, spec }));
        return;
      } catch (e) {
        if (!is(e, 409) && !is(e, 404)) throw e;
        leases.delete(name);
        cur = undefined; // changed or deleted by someone else: read again
      }
    }
    throw new Error(`lease ${NODE_LEASE_NAMESPACE}/${name}: still conflicting after 3 attempts`);
  }

  // --- heartbeats: every tick renews the next slice of nodes, round robin -------------------------
  const tickMs = Math.min(1000, Math.max(20, Math.floor(opts.heartbeatIntervalMs / 10)));
  const perTick = Math.max(1, Math.ceil((opts.count * tickMs) / opts.heartbeatIntervalMs));
  const statusEvery = opts.nodeStatusIntervalMs ?? 300_000;
  const statusAt = new Array<number>(opts.count).fill(Date.now());
  const indexOf = new Map(names.map((n, i) => [n, i]));
  /** Nodes whose status on the server is not ours (Ready not True), or that were deleted. */
  const staleStatus = new Set<number>();
  const deleted = new Set<number>();
  const renewing = new Set<Promise<void>>();
  const inFlight = new Uint8Array(opts.count);
  let cursor = 0;
  const tick = (): void => {
    for (let k = 0; k < perTick && !signal.aborted; k++) {
      const i = cursor;
      cursor = (cursor + 1) % opts.count;
      const name = names[i];
      if (inFlight[i]) {
        st.leaseRenewalsLate++;
        continue;
      }
      inFlight[i] = 1;
      const p = (async () => {
        try {
          if (deleted.delete(i)) {
            try {
              await client.create(buildHollowNode(name, i, capacity, new Date()));
            } catch (e) {
              if (!is(e, 409)) {
                deleted.add(i);
                throw e;
              }
            }
            staleStatus.add(i);
          }
          await renewLease(name);
          st.leaseRenewals++;
          if (staleStatus.delete(i) || (statusEvery > 0 && Date.now() - statusAt[i] >= statusEvery)) {
            statusAt[i] = Date.now();
            await writeNodeStatus(name, i);
          }
        } catch (e) {
          st.leaseFailures++;
          if (!signal.aborted) log.warn({ node: name, err: (e as Error).message }, 'hollow heartbeat failed');
        }
      })();
      renewing.add(p);
      void p.finally(() => {
        renewing.delete(p);
        inFlight[i] = 0;
      });
    }
  };
  const timer = setInterval(tick, tickMs);

  // --- our Node objects: a Ready condition someone else changed, or a deleted Node ----------------
  const noteNode = (type: string, node: KubeObject): void => {
    const i = indexOf.get(node.metadata.name ?? '');
    if (i === undefined) return;
    if (type === 'DELETED') {
      deleted.add(i);
      return;
    }
    const conds = (node.status?.conditions ?? []) as Array<{ type: string; status: string }>;
    if (conds.find((c) => c.type === 'Ready')?.status !== 'True') staleStatus.add(i);
  };
  const watchingNodes = (async () => {
    while (!signal.aborted) {
      try {
        for await (const ev of listAndWatch(
          client,
          NODES,
          { labelSelector: `${HOLLOW_LABEL}=true` },
          signal,
        )) {
          if (ev.type === 'SYNC') for (const n of ev.items) noteNode('ADDED', n);
          else noteNode(ev.type, ev.object);
        }
      } catch (e) {
        if (signal.aborted) break;
        log.error({ err: (e as Error).message }, 'hollow node watch failed; starting again in 5 s');
        await sleep(5000, signal);
      }
    }
  })();

  // --- pods: one watch, a work queue of keys whose status is to be written ------------------------
  /** The latest object seen of each pod still waiting for its Running status. */
  const pending = new Map<string, KubeObject>();

  const reconcile = async (key: string): Promise<void> => {
    const seen = pending.get(key);
    if (!seen) return;
    const forget = (): void => {
      if (pending.get(key) === seen) pending.delete(key);
    };
    let pod = seen;
    for (let attempt = 0; ; attempt++) {
      if (!needsHollowStatus(pod, isHollowNode)) return forget();
      const { managedFields: _mf, ...metadata } = pod.metadata;
      void _mf;
      try {
        await client.updateStatus({ ...pod, metadata, status: buildHollowPodStatus(pod, new Date()) });
        st.podsStarted++;
        return forget();
      } catch (e) {
        if (is(e, 404)) return forget();
        if (!is(e, 409) || attempt >= 5) {
          st.statusFailures++;
          throw e;
        }
        st.statusConflicts++;
        try {
          pod = await client.get(PODS, pod.metadata.namespace, pod.metadata.name!);
        } catch (e2) {
          if (is(e2, 404)) return forget();
          throw e2;
        }
        if (pod.metadata.uid !== seen.metadata.uid) return forget(); // replaced: its own events follow
      }
    }
  };
  const queue = new WorkQueue(reconcile, {
    workers: opts.statusConcurrency ?? 32,
    failureBaseMs: 200,
    failureMaxMs: 10_000,
    onError: (key, e) => log.warn({ pod: key, err: (e as Error).message }, 'hollow pod status write failed'),
  });

  const consider = (pod: KubeObject): void => {
    const key = keyOf(pod);
    if (needsHollowStatus(pod, isHollowNode)) {
      pending.set(key, pod);
      queue.add(key);
    } else pending.delete(key);
  };

  let isSynced = false;
  let markSynced!: () => void;
  let failStart!: (e: unknown) => void;
  const synced = new Promise<void>((resolve, reject) => {
    markSynced = () => {
      isSynced = true;
      resolve();
    };
    failStart = reject;
  });
  const watching = (async () => {
    while (!signal.aborted) {
      try {
        for await (const ev of listAndWatch(
          client,
          PODS,
          {
            pageSize: 1000,
            onRetry: (e) => log.warn({ err: (e as Error).message }, 'hollow pod watch: retrying'),
          },
          signal,
        )) {
          if (ev.type === 'SYNC') {
            for (const p of ev.items) consider(p);
            markSynced();
          } else if (ev.type === 'DELETED') pending.delete(keyOf(ev.object));
          else consider(ev.object);
        }
      } catch (e) {
        if (signal.aborted) break;
        if (!isSynced) {
          failStart(e); // e.g. 401/403: start-up fails with the reason
          break;
        }
        log.error({ err: (e as Error).message }, 'hollow pod watch failed; starting again in 5 s');
        await sleep(5000, signal);
      }
    }
  })();
  try {
    await synced;
  } catch (e) {
    abort.abort();
    clearInterval(timer);
    queue.shutdown();
    await watchingNodes;
    await Promise.allSettled([...renewing]);
    throw e;
  }
  log.info({ nodes: opts.count }, 'hollow pod watch synced');

  return {
    nodeNames: names,
    stats: () => ({ ...st, pending: pending.size }),
    async stop() {
      abort.abort();
      clearInterval(timer);
      queue.shutdown();
      await Promise.all([watching, watchingNodes]);
      await Promise.allSettled([...renewing]);
      await queue.idle();
    },
  };
}
