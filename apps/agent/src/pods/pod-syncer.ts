import path from 'node:path';
import { ApiError, kindFor, type ContainerV1, type KubeObject, type PodStatusV1 } from '@berth/api';
import type { BerthClient } from '@berth/client';
import { pickCredentials, type Credentials, type ImageRecord, type ImageService } from '@berth/oci';
import { ContainerConfigError, readFileInRoot, resolveUserFrom, type ImageRunConfig } from '../runtime';
import type { ContainerRecord, ContainerSupervisor, RestartPolicy } from '../supervisor';
import { VolumeError, type PreparedPod, type VolumeManager } from '../volumes/volumes';
import {
  configMapData,
  containerId,
  mapContainer,
  PodConfigError,
  podKey,
  pullPolicyOf,
  referencedSources,
  secretData,
  type Pod,
  type PodSources,
} from './container-config';
import type { ProbeManager } from '../probes/probe-manager';
import type { EventRecorder } from './events';
import { buildPodStatus, type ContainerView } from './pod-status';
import type { ReconcileResult } from '@berth/controllers';

const PODS = kindFor('v1', 'Pod')!;
const CONFIGMAPS = kindFor('v1', 'ConfigMap')!;
const SECRETS = kindFor('v1', 'Secret')!;

export interface PodSyncerOptions {
  client: BerthClient;
  images: Pick<ImageService, 'get' | 'pull'>;
  supervisor: ContainerSupervisor;
  volumes: VolumeManager;
  events: EventRecorder;
  /** Runs the containers' probes; their results make containerStatuses[].ready/started. */
  prober?: Pick<ProbeManager, 'update' | 'status' | 'removePod'>;
  nodeName: string;
  hostIP: string;
  logDir: string;
  /** Image pull backoff (the same shape as the restart backoff). */
  pullBackoff: { initialDelayMs: number; maxDelayMs: number };
  log: {
    info(o: object, m: string): void;
    warn(o: object, m: string): void;
    debug(o: object, m: string): void;
  };
}

interface StartContext {
  pod: Pod;
  soonest: (ms: number) => void;
  mark: (what: string) => void;
  sources?: PodSources;
  prepared?: PreparedPod;
}

interface PullState {
  uid: string;
  attempts: number;
  nextAt: number;
  message: string;
  /** Until then the failure is shown as ErrImagePull, after it as ImagePullBackOff. */
  errorUntil?: number;
  /** The ErrImagePull message. */
  errorMessage?: string;
}

type ImageResult =
  { image: ImageRecord } | { waiting: { reason: string; message: string }; requeueAfterMs: number };

/**
 * Makes the pods bound to this node real, one pod key at a time (the work queue serialises keys):
 * pulls images per pull policy (with backoff, ErrImagePull → ImagePullBackOff → retry), prepares
 * volumes and /etc files, maps each container to a ContainerConfig and hands it to the supervisor,
 * which keeps it running per restartPolicy; reports the pod's status through the status
 * subresource; and tears everything down when the pod is deleted. Level-triggered: reconcile(key)
 * reads the cached pod and the supervisor's records, never the event that caused it.
 */
export class PodSyncer {
  /** The informer's cache: pod key → latest object. */
  readonly cache = new Map<string, Pod>();
  /** Pod UIDs this agent runs something for → pod key. */
  private readonly known = new Map<string, { key: string; grace: number }>();
  private readonly pulls = new Map<string, PullState>();
  private readonly imageIDs = new Map<string, string>();
  private readonly announced = new Set<string>();
  private readonly lastStatus = new Map<string, string>();

  constructor(private readonly o: PodSyncerOptions) {}

  /** The pod key of a supervised container (for 'status' events), if its pod is known. */
  keyOfUID(uid: string): string | undefined {
    return this.known.get(uid)?.key;
  }

  podByKey(key: string): Pod | undefined {
    return this.cache.get(key);
  }

  logPath(id: string): string {
    return path.join(this.o.logDir, `${id}.log`);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const pod = this.cache.get(key);
    const uid = pod?.metadata.uid;
    for (const [u, k] of [...this.known]) {
      if (k.key === key && (!pod || u !== uid || pod.metadata.deletionTimestamp)) {
        const grace = pod?.metadata.deletionGracePeriodSeconds ?? k.grace;
        this.announceStop(key, u);
        await this.teardown(u, grace);
      }
    }
    if (!pod || !uid || pod.metadata.deletionTimestamp) return;
    if (pod.spec.nodeName !== this.o.nodeName) return;
    this.known.set(uid, { key, grace: pod.spec.terminationGracePeriodSeconds ?? 30 });
    return this.sync(pod);
  }

  /** Stops every container of a pod UID (SIGTERM, SIGKILL after grace) and removes all it used. */
  async teardown(uid: string, graceSeconds: number): Promise<void> {
    this.o.prober?.removePod(uid);
    const recs = this.o.supervisor.list().filter((r) => r.spec.config.podUID === uid);
    await Promise.all(recs.map((r) => this.o.supervisor.stop(r.id, graceSeconds)));
    await this.o.volumes.remove(uid);
    const ids = new Set(recs.map((r) => r.id));
    for (const id of ids) {
      this.pulls.delete(id);
      this.imageIDs.delete(id);
    }
    for (const [id, p] of this.pulls) if (p.uid === uid) this.pulls.delete(id);
    for (const m of this.announced)
      if (m.startsWith(`${uid}#`) || ids.has(m.split('#')[0])) this.announced.delete(m);
    this.lastStatus.delete(uid);
    this.known.delete(uid);
    this.o.log.info({ uid, containers: recs.length }, 'pod torn down');
  }

  /**
   * Stops the containers of every pod on this node with each pod's grace period (the agent exiting
   * with --on-exit stop). The pods stay in the API; a restarted agent starts them again.
   */
  async teardownAll(): Promise<void> {
    const uids = new Set(this.o.supervisor.list().map((r) => r.spec.config.podUID));
    await Promise.all([...uids].map((u) => this.teardown(u, this.known.get(u)?.grace ?? 30)));
  }

  /**
   * After the first list: stops containers and removes pod directories whose pod UID is not bound
   * to this node any more (deleted while the agent was down).
   */
  async collectOrphans(): Promise<void> {
    const live = new Set<string>();
    for (const p of this.cache.values()) if (p.metadata.uid) live.add(p.metadata.uid);
    const orphanUIDs = new Set<string>();
    for (const r of this.o.supervisor.list())
      if (!live.has(r.spec.config.podUID)) orphanUIDs.add(r.spec.config.podUID);
    for (const u of await this.o.volumes.list()) if (!live.has(u)) orphanUIDs.add(u);
    for (const u of orphanUIDs) {
      if (this.known.has(u)) continue;
      this.o.log.info({ uid: u }, 'removing containers of a pod no longer bound here');
      await this.teardown(u, 2);
    }
  }

  private async sync(pod: Pod): Promise<ReconcileResult> {
    const uid = pod.metadata.uid!;
    const views: ContainerView[] = [];
    let requeue: number | undefined;
    const soonest = (ms: number) => (requeue = requeue === undefined ? ms : Math.min(requeue, ms));
    const containers = pod.spec.containers ?? [];
    const timings: [string, number][] = [];
    let t = Date.now();
    const mark = (what: string) => {
      const now = Date.now();
      timings.push([what, now - t]);
      t = now;
    };
    // a new pod: say Pending/ContainerCreating before a pull that may take a while
    const toPull = async () => {
      for (const c of [...(pod.spec.initContainers ?? []), ...containers]) {
        if (this.o.supervisor.get(containerId(uid, c.name))) continue;
        if (pullPolicyOf(c) === 'Always' || !(await this.o.images.get(c.image))) return true;
      }
      return false;
    };
    if (!pod.status?.containerStatuses && (await toPull())) {
      const early = (list: ContainerV1[]) =>
        list.map((c) => ({
          name: c.name,
          image: c.image,
          record: this.o.supervisor.get(containerId(uid, c.name)),
        }));
      await this.writeStatus(pod, early(containers), early(pod.spec.initContainers ?? []));
      mark('early-status');
    }
    const ctx: StartContext = { pod, soonest, mark };
    // init containers run one after another to completion before the others start
    const initViews: ContainerView[] = [];
    let initialized = true;
    const initPolicy: RestartPolicy = pod.spec.restartPolicy === 'Never' ? 'Never' : 'OnFailure';
    for (const c of pod.spec.initContainers ?? []) {
      const id = containerId(uid, c.name);
      const view: ContainerView = { name: c.name, image: c.image, imageID: this.imageIDs.get(id) };
      initViews.push(view);
      if (!initialized) {
        view.waiting = { reason: 'PodInitializing' };
        continue;
      }
      const rec = await this.ensureStarted(ctx, c, id, view, initPolicy, 'initContainers');
      if (!(rec?.state === 'terminated' && rec.exitCode === 0)) initialized = false;
    }
    for (const c of containers) {
      const id = containerId(uid, c.name);
      const view: ContainerView = { name: c.name, image: c.image, imageID: this.imageIDs.get(id) };
      views.push(view);
      if (!initialized && !this.o.supervisor.get(id)) {
        view.waiting = { reason: 'PodInitializing' };
        continue;
      }
      const rec = await this.ensureStarted(
        ctx,
        c,
        id,
        view,
        (pod.spec.restartPolicy ?? 'Always') as RestartPolicy,
        'containers',
      );
      if (rec && this.o.prober) {
        // start, keep or stop the probe workers of this run; their results say ready/started
        this.o.prober.update(pod, c, rec);
        Object.assign(view, this.o.prober.status(c, rec));
      }
    }
    await this.writeStatus(pod, views, initViews);
    mark('status');
    if (timings.length > 1)
      this.o.log.debug({ pod: podKey(pod), ms: Object.fromEntries(timings) }, 'pod synced');
    return requeue === undefined ? undefined : { requeueAfterMs: requeue };
  }

  /**
   * The container's supervisor record, starting it first when it has none: image per pull policy,
   * volumes and /etc files (once per sync), ContainerConfig, supervisor.run. Fills in `view`.
   */
  private async ensureStarted(
    ctx: StartContext,
    c: ContainerV1,
    id: string,
    view: ContainerView,
    restartPolicy: RestartPolicy,
    list: 'containers' | 'initContainers',
  ): Promise<ContainerRecord | undefined> {
    const { pod } = ctx;
    const rec = this.o.supervisor.get(id);
    if (rec) {
      view.record = rec;
      if (!view.imageID) {
        const img = await this.o.images.get(c.image).catch(() => undefined);
        if (img) this.imageIDs.set(id, (view.imageID = img.repoDigest));
      }
      this.announce(pod, c, rec);
      return rec;
    }
    const got = await this.ensureImage(pod, c, id);
    ctx.mark('image');
    if ('waiting' in got) {
      view.waiting = got.waiting;
      ctx.soonest(got.requeueAfterMs);
      return undefined;
    }
    view.imageID = got.image.repoDigest;
    this.imageIDs.set(id, got.image.repoDigest);
    try {
      ctx.sources ??= await this.fetchSources(pod);
      ctx.prepared ??= await this.o.volumes.prepare(pod, ctx.sources, this.o.hostIP);
      ctx.mark('volumes');
      const config = mapContainer({
        pod,
        container: c,
        image: runConfigOf(got.image),
        sources: ctx.sources,
        volumes: ctx.prepared.volumes,
        etcFiles: ctx.prepared.etcFiles,
        hostIP: this.o.hostIP,
        podIP: pod.spec.hostNetwork ? this.o.hostIP : '',
        user: await this.resolveUser(got.image, pod, c),
      });
      const started = await this.o.supervisor.run({
        config,
        layers: got.image.layers.map((l) => l.dir),
        restartPolicy,
        logPath: this.logPath(id),
      });
      view.record = started;
      ctx.mark('start');
      this.announce(pod, c, started);
      return started;
    } catch (e) {
      if (!(e instanceof PodConfigError || e instanceof VolumeError || e instanceof ContainerConfigError))
        throw e;
      view.waiting = { reason: 'CreateContainerConfigError', message: e.message };
      this.o.events.record(pod, 'Warning', 'Failed', `Error: ${e.message}`, `spec.${list}{${c.name}}`);
      ctx.soonest(this.o.pullBackoff.maxDelayMs);
      return undefined;
    }
  }

  /** Killing events (kubelet's "Stopping container x") for the running containers of a pod going away. */
  private announceStop(key: string, uid: string): void {
    const [namespace, name] = key.split('/');
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, uid } } as Pod;
    for (const r of this.o.supervisor.list()) {
      if (r.spec.config.podUID !== uid || r.state !== 'running') continue;
      const c = r.spec.config.name;
      this.o.events.record(pod, 'Normal', 'Killing', `Stopping container ${c}`, `spec.containers{${c}}`);
    }
  }

  /** Events for a container's start, once per run. */
  private announce(pod: Pod, c: ContainerV1, rec: ContainerRecord): void {
    const mark = `${rec.id}#${rec.restartCount}#${rec.state}`;
    if (this.announced.has(mark)) return;
    this.announced.add(mark);
    const field = `spec.containers{${c.name}}`;
    if (rec.state === 'running') {
      this.o.events.record(pod, 'Normal', 'Created', `Created container ${c.name}`, field);
      this.o.events.record(pod, 'Normal', 'Started', `Started container ${c.name}`, field);
    } else if (rec.state === 'waiting' && rec.reason === 'CrashLoopBackOff') {
      this.o.events.record(
        pod,
        'Warning',
        'BackOff',
        `Back-off restarting failed container ${c.name}`,
        field,
      );
    } else if (rec.state === 'terminated' && rec.reason === 'StartError') {
      this.o.events.record(pod, 'Warning', 'Failed', `Error: ${rec.message ?? 'start failed'}`, field);
    }
  }

  private async ensureImage(pod: Pod, c: ContainerV1, id: string): Promise<ImageResult> {
    const policy = pullPolicyOf(c);
    const field = `spec.containers{${c.name}}`;
    const now = Date.now();
    const st = this.pulls.get(id);
    // A reconcile triggered meanwhile (e.g. by our own status write coming back on the watch)
    // keeps showing ErrImagePull for the first half of the wait, as kubelet's periodic sync would.
    if (st?.errorUntil && now < st.errorUntil)
      return {
        waiting: { reason: 'ErrImagePull', message: st.errorMessage ?? st.message },
        requeueAfterMs: st.errorUntil - now,
      };
    if (st && now < st.nextAt)
      return {
        waiting: {
          reason: 'ImagePullBackOff',
          message: `Back-off pulling image "${c.image}": ${st.message}`,
        },
        requeueAfterMs: st.nextAt - now,
      };
    if (policy !== 'Always') {
      const have = await this.o.images.get(c.image);
      if (have) {
        if (!st)
          this.o.events.record(
            pod,
            'Normal',
            'Pulled',
            `Container image "${c.image}" already present on machine`,
            field,
          );
        this.pulls.delete(id);
        return { image: have };
      }
      if (policy === 'Never') {
        const message = `Container image "${c.image}" is not present with pull policy of Never`;
        if (!st) this.o.events.record(pod, 'Warning', 'ErrImageNeverPull', message, field);
        this.pulls.set(id, { uid: pod.metadata.uid!, attempts: 1, nextAt: now + 5000, message });
        return { waiting: { reason: 'ErrImageNeverPull', message }, requeueAfterMs: 5000 };
      }
    }
    this.o.events.record(pod, 'Normal', 'Pulling', `Pulling image "${c.image}"`, field);
    const t0 = Date.now();
    try {
      const credentials = await this.pullCredentials(pod, c.image);
      const image = await this.o.images.pull(c.image, credentials ? { credentials } : {});
      this.pulls.delete(id);
      this.o.events.record(
        pod,
        'Normal',
        'Pulled',
        `Successfully pulled image "${c.image}" in ${((Date.now() - t0) / 1000).toFixed(3)}s`,
        field,
      );
      return { image };
    } catch (e) {
      if (e instanceof ApiError && e.code >= 500) throw e;
      const attempts = (st?.attempts ?? 0) + 1;
      const { initialDelayMs, maxDelayMs } = this.o.pullBackoff;
      const delay = Math.min(maxDelayMs, Math.max(1, initialDelayMs) * 2 ** Math.min(attempts - 1, 30));
      const message = `Failed to pull image "${c.image}": ${(e as Error).message}`;
      const failedAt = Date.now();
      this.pulls.set(id, {
        uid: pod.metadata.uid!,
        attempts,
        nextAt: failedAt + delay,
        message: (e as Error).message,
        errorUntil: failedAt + Math.max(1, Math.floor(delay / 2)),
        errorMessage: message,
      });
      this.o.events.record(pod, 'Warning', 'Failed', message, field);
      this.o.log.warn(
        { pod: podKey(pod), image: c.image, err: (e as Error).message, retryInMs: delay },
        'image pull failed',
      );
      // show ErrImagePull now, ImagePullBackOff half way through the wait, then pull again
      return {
        waiting: { reason: 'ErrImagePull', message },
        requeueAfterMs: Math.max(1, Math.floor(delay / 2)),
      };
    }
  }

  /** Credentials for the image's registry from the pod's imagePullSecrets (dockerconfigjson); malformed ones are skipped. */
  private async pullCredentials(pod: Pod, image: string): Promise<Credentials | undefined> {
    const names = (pod.spec.imagePullSecrets ?? []).map((s) => s.name).filter((n): n is string => !!n);
    if (!names.length) return undefined;
    const configs: string[] = [];
    for (const name of names) {
      const secret = await this.getOptional(SECRETS, pod.metadata.namespace, name);
      if (!secret || secret.type !== 'kubernetes.io/dockerconfigjson') continue;
      const json = secretData(secret)['.dockerconfigjson'];
      if (json) configs.push(json);
    }
    return pickCredentials(image, configs);
  }

  private async getOptional(
    kind: typeof PODS,
    ns: string | undefined,
    name: string,
  ): Promise<KubeObject | undefined> {
    try {
      return await this.o.client.get(kind, ns, name);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  private async fetchSources(pod: Pod): Promise<PodSources> {
    const refs = referencedSources(pod.spec);
    const ns = pod.metadata.namespace;
    const out: PodSources = { configMaps: new Map(), secrets: new Map() };
    for (const n of refs.configMaps) {
      const cm = await this.getOptional(CONFIGMAPS, ns, n);
      if (cm) out.configMaps.set(n, configMapData(cm));
    }
    for (const n of refs.secrets) {
      const s = await this.getOptional(SECRETS, ns, n);
      if (s) out.secrets.set(n, secretData(s));
    }
    return out;
  }

  /** uid/gid from runAsUser/runAsGroup and the image's User, resolved against its /etc/passwd. */
  private async resolveUser(
    img: ImageRecord,
    pod: Pod,
    c: ContainerV1,
  ): Promise<{ uid: number; gid: number; additionalGids?: number[] }> {
    const runAsUser = c.securityContext?.runAsUser ?? pod.spec.securityContext?.runAsUser;
    const runAsGroup = c.securityContext?.runAsGroup ?? pod.spec.securityContext?.runAsGroup;
    const imageUser = img.config.config?.User || undefined;
    if (runAsUser === undefined && !imageUser)
      return runAsGroup === undefined ? { uid: 0, gid: 0 } : { uid: 0, gid: runAsGroup };
    // the topmost layer holding the file wins (a close enough view of the merged root)
    const read = async (f: string) => {
      for (const l of [...img.layers].reverse()) {
        const t = await readFileInRoot(l.dir, f).catch(() => undefined);
        if (t !== undefined) return t;
      }
      return undefined;
    };
    const [passwd, group] = await Promise.all([read('/etc/passwd'), read('/etc/group')]);
    return resolveUserFrom({ passwd, group }, imageUser, runAsUser, runAsGroup);
  }

  /** PUT …/status when it changed; retries a conflict once on a fresh copy of the same pod. */
  private async writeStatus(pod: Pod, views: ContainerView[], inits: ContainerView[] = []): Promise<void> {
    const uid = pod.metadata.uid!;
    const status: PodStatusV1 = buildPodStatus(pod, views, this.o.hostIP, new Date().toISOString(), inits);
    const text = JSON.stringify(status);
    if (this.lastStatus.get(uid) === text || sameStatus(pod.status, status)) {
      this.lastStatus.set(uid, text);
      return;
    }
    const cached = this.cache.get(podKey(pod));
    let target: KubeObject = cached?.metadata.uid === uid ? cached : pod;
    for (let attempt = 0; ; attempt++) {
      const next = { ...structuredClone(target), status };
      delete next.metadata.managedFields;
      try {
        const written = await this.o.client.updateStatus(next);
        this.lastStatus.set(uid, text);
        const key = podKey(pod);
        // keep the cache at least as new as what we wrote
        const cur = this.cache.get(key);
        if (
          cur?.metadata.uid === uid &&
          Number(written.metadata.resourceVersion) > Number(cur.metadata.resourceVersion)
        )
          this.cache.set(key, written as Pod);
        return;
      } catch (e) {
        if (e instanceof ApiError && e.code === 404) return;
        if (!(e instanceof ApiError && e.code === 409) || attempt >= 3) throw e;
        const fresh = await this.getOptional(PODS, pod.metadata.namespace, pod.metadata.name!);
        if (!fresh || fresh.metadata.uid !== uid) return;
        target = fresh;
      }
    }
  }
}

function sameStatus(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b);
}

/** The run settings of a pulled image. */
export function runConfigOf(img: ImageRecord): ImageRunConfig {
  const c = img.config.config ?? {};
  return {
    entrypoint: c.Entrypoint ?? undefined,
    cmd: c.Cmd ?? undefined,
    env: c.Env,
    workingDir: c.WorkingDir || undefined,
    user: c.User || undefined,
  };
}
