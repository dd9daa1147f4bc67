import path from 'node:path';
import { promises as fs } from 'node:fs';
import { Inject, Injectable, Module, type DynamicModule } from '@nestjs/common';
import { ApiError } from '@berth/api';
import { BerthClient, ConnectionError } from '@berth/client';
import { ImageService, RegistryHosts } from '@berth/oci';
import pino, { type Logger } from 'pino';
import { AgentConfig, splitHostPort } from './config/config';
import { hostInfo } from './node/host-info';
import { NodeService } from './node/node.service';
import { containerId, imagesInUse, podKey } from './pods/container-config';
import { EventRecorder } from './pods/events';
import { PodController } from './pods/pod-controller';
import { PodSyncer } from './pods/pod-syncer';
import { LinuxProbeExecutor } from './probes/probe-executor';
import { ProbeManager } from './probes/probe-manager';
import { BundleStore, CgroupCleaner, ExitWatcher, RuncRuntime } from './runtime';
import { AgentServer } from './server/agent-server';
import { RuncExecRunner } from './exec';
import { LinuxMounter, OverlaySnapshotter } from './snapshots';
import { ContainerSupervisor } from './supervisor';
import { VolumeManager } from './volumes/volumes';

export const AGENT_CONFIG = Symbol('AGENT_CONFIG');
export const AGENT_LOGGER = Symbol('AGENT_LOGGER');

export type ResolvedAgentConfig = AgentConfig & { token: string };

/** Where everything lives under --data-dir. */
export function dataLayout(dataDir: string) {
  return {
    images: path.join(dataDir, 'images'),
    snapshots: path.join(dataDir, 'snapshots'),
    bundles: path.join(dataDir, 'bundles'),
    logs: path.join(dataDir, 'logs'),
    /** runc root (state/runc), monitor exit files (state/exits), supervisor.json. */
    state: path.join(dataDir, 'state'),
    pods: path.join(dataDir, 'pods'),
  };
}

export function createAgentLogger(
  format: 'json' | 'pretty',
  level = process.env.BERTH_LOG_LEVEL || 'info',
): Logger {
  const opts = { level, base: { component: 'agent' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === 'pretty') {
    try {
      const pretty = require('pino-pretty') as (o: object) => NodeJS.WritableStream;
      return pino(
        opts,
        pretty({
          destination: 2,
          sync: true,
          colorize: process.stderr.isTTY,
          ignore: 'pid,hostname,component',
        }),
      );
    } catch {
      /* JSON below */
    }
  }
  return pino(opts, pino.destination({ fd: 2, sync: true }));
}

/** The runtime context: monitor-run runc, exit watcher, snapshots, bundles, supervisor. */
@Injectable()
export class RuntimeContext {
  readonly runtime: RuncRuntime;
  readonly exits: ExitWatcher;
  readonly supervisor: ContainerSupervisor;

  constructor(@Inject(AGENT_CONFIG) cfg: ResolvedAgentConfig, @Inject(AGENT_LOGGER) log: Logger) {
    const d = dataLayout(cfg.dataDir);
    this.runtime = new RuncRuntime({
      stateDir: d.state,
      runtimeBinary: cfg.runtime === 'crun' ? '/usr/bin/crun' : '/usr/sbin/runc',
    });
    this.exits = new ExitWatcher(this.runtime.exitDir);
    this.supervisor = new ContainerSupervisor(
      {
        runtime: this.runtime,
        exits: this.exits,
        snapshots: new OverlaySnapshotter(d.snapshots),
        mounter: new LinuxMounter(),
        bundles: new BundleStore(d.bundles),
        cgroups: new CgroupCleaner(),
      },
      {
        stateDir: d.state,
        backoff: {
          initialDelayMs: cfg.restartInitialDelayMs,
          maxDelayMs: cfg.restartMaxDelayMs,
          resetAfterMs: cfg.restartResetAfterMs,
        },
      },
    );
    this.supervisor.on('error', (e) => log.warn({ err: e.message }, 'supervisor'));
    this.exits.on('error', (e) => log.warn({ err: e.message }, 'exit watcher'));
  }

  async start(): Promise<void> {
    await this.runtime.init();
    await this.supervisor.start();
  }

  /** Stops watching; containers and their monitors keep running. */
  stop(): void {
    this.supervisor.close();
    this.exits.stop();
  }
}

/**
 * The agent's lifecycle: runtime (adopting containers that survived), image service, the agent's
 * endpoint, Node registration + heartbeat, then the pod watch. stop() leaves containers running.
 */
@Injectable()
export class AgentLifecycle {
  readonly client: BerthClient;
  readonly images: ImageService;
  node?: NodeService;
  syncer?: PodSyncer;
  controller?: PodController;
  prober?: ProbeManager;
  server?: AgentServer;
  private gcTimer?: NodeJS.Timeout;
  private gcRunning = false;

  constructor(
    @Inject(AGENT_CONFIG) private readonly cfg: ResolvedAgentConfig,
    @Inject(AGENT_LOGGER) private readonly log: Logger,
    private readonly rt: RuntimeContext,
  ) {
    this.client = new BerthClient({ server: cfg.server, token: cfg.token, ca: cfg.caFile });
    this.images = new ImageService({
      root: dataLayout(cfg.dataDir).images,
      hosts: new RegistryHosts({ mirrors: cfg.registryMirrors, insecure: cfg.insecureRegistries }),
      log: (m) => log.debug({ component: 'oci' }, m),
    });
  }

  async start(): Promise<void> {
    const { cfg, log, rt } = this;
    const d = dataLayout(cfg.dataDir);
    for (const dir of Object.values(d)) await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.chmod(d.pods, 0o755);
    await this.images.init();
    await rt.start();
    log.info({ containers: rt.supervisor.list().length }, 'runtime ready');

    const [host, port] = splitHostPort(cfg.listen);
    const volumes = new VolumeManager(d.pods);
    this.server = new AgentServer({
      token: cfg.token,
      log,
      images: async () =>
        (await this.images.list()).map((i) => ({
          names: [i.reference, i.repoDigest],
          digest: i.digest,
          sizeBytes: i.size,
          pulledAt: i.pulledAt,
        })),
      findContainer: (ns, pod, container) => this.findContainer(ns, pod, container),
      execTarget: (ns, pod, container) => this.execTarget(ns, pod, container),
      exec: new RuncExecRunner({
        runtimeBinary: rt.runtime.runtimeBinary,
        runtimeRoot: rt.runtime.runcRoot,
        pidDir: path.join(d.state, 'exec'),
      }),
    });
    const boundPort = await this.server.listen(host, port).catch((e: NodeJS.ErrnoException) => {
      const why =
        e.code === 'EADDRINUSE'
          ? 'the address is already in use'
          : e.code === 'EADDRNOTAVAIL'
            ? 'no such local address'
            : e.message;
      throw new Error(
        `--listen ${cfg.listen}: cannot listen: ${why} (choose another with --listen HOST:PORT)`,
      );
    });
    const version = (await rt.runtime.version()).replace(/^\S+ version /, '');
    const info = await hostInfo({
      nodeName: cfg.nodeName,
      maxPods: cfg.maxPods,
      runtimeVersion: `${cfg.runtime}://${version || 'unknown'}`,
      port: boundPort,
      bindHost: host,
    });
    this.node = new NodeService({
      client: this.client,
      info,
      heartbeatIntervalMs: cfg.heartbeatIntervalMs,
      statusReportIntervalMs: cfg.statusReportIntervalMs,
      log,
      images: async () =>
        (await this.images.list()).map((i) => ({ names: [i.repoDigest, i.reference], sizeBytes: i.size })),
    });
    // the control plane may not be up yet (or be restarting): keep trying, as the kubelet does
    for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
      try {
        await this.node.register();
        break;
      } catch (e) {
        if (!(e instanceof ConnectionError) && !(e instanceof ApiError && e.code >= 500)) throw e;
        log.warn({ err: (e as Error).message, retryInMs: delay }, 'cannot register the node yet');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    this.node.start();
    const events = new EventRecorder(this.client, cfg.nodeName, (m, e) =>
      log.warn({ err: (e as Error).message }, m),
    );
    this.prober = new ProbeManager({
      executor: new LinuxProbeExecutor({
        runtimeBinary: rt.runtime.runtimeBinary,
        runtimeRoot: rt.runtime.runcRoot,
      }),
      events,
      kill: async (id, startedAt, grace) => {
        if (await rt.supervisor.killRun(id, startedAt, grace))
          log.info({ container: id, graceSeconds: grace }, 'killed after a failed probe');
      },
      log,
    });
    this.syncer = new PodSyncer({
      client: this.client,
      images: this.images,
      supervisor: rt.supervisor,
      volumes,
      events,
      prober: this.prober,
      nodeName: cfg.nodeName,
      hostIP: info.internalIP,
      logDir: d.logs,
      pullBackoff: { initialDelayMs: cfg.restartInitialDelayMs, maxDelayMs: cfg.restartMaxDelayMs },
      log,
    });
    this.controller = new PodController({
      client: this.client,
      syncer: this.syncer,
      supervisor: rt.supervisor,
      prober: this.prober,
      nodeName: cfg.nodeName,
      log,
    });
    await this.controller.start();
    if (cfg.imageGcThresholdBytes > 0) {
      this.gcTimer = setInterval(() => void this.collectImages(), cfg.imageGcIntervalMs);
      this.gcTimer.unref();
    }
    log.info({ node: cfg.nodeName, endpoint: `${host}:${boundPort}`, dataDir: cfg.dataDir }, 'agent ready');
  }

  /** Image GC: when blobs + layers pass the threshold, removes images no pod on this node uses. */
  async collectImages(): Promise<void> {
    if (!this.syncer || this.gcRunning) return;
    this.gcRunning = true;
    try {
      const inUse = imagesInUse(this.syncer.cache.values());
      const threshold = this.cfg.imageGcThresholdBytes;
      const r = await this.images.gc(inUse, {
        thresholdBytes: threshold,
        targetBytes: Math.floor(threshold * 0.8),
      });
      if (r.removedImages.length)
        this.log.info(
          {
            removed: r.removedImages,
            layers: r.removedLayers.length,
            before: r.usageBefore,
            after: r.usageAfter,
          },
          'image garbage collection',
        );
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'image garbage collection failed');
    } finally {
      this.gcRunning = false;
    }
  }

  private findContainer(ns: string, name: string, container: string | undefined) {
    const pod = this.syncer?.podByKey(podKey({ metadata: { namespace: ns, name } }));
    if (!pod?.metadata.uid) return undefined;
    const names = (pod.spec.containers ?? []).map((c) => c.name);
    if (!container) {
      if (names.length !== 1)
        return {
          code: 400,
          error: `a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`,
        };
      container = names[0];
    }
    if (!names.includes(container)) return undefined;
    const id = containerId(pod.metadata.uid, container);
    const rec = this.rt.supervisor.get(id);
    if (!rec) return undefined;
    return {
      logPath: rec.logPath,
      running: () => this.rt.supervisor.get(id)?.state === 'running',
    };
  }

  /** The runc id of a pod's running container, for exec (only containers of pods bound here). */
  private execTarget(
    ns: string,
    name: string,
    container: string | undefined,
  ): { id: string } | { error: string; code: number } {
    const pod = this.syncer?.podByKey(podKey({ metadata: { namespace: ns, name } }));
    if (!pod?.metadata.uid) return { code: 404, error: `pod "${name}" is not on this node` };
    const names = (pod.spec.containers ?? []).map((c) => c.name);
    if (!container) {
      if (names.length !== 1)
        return {
          code: 400,
          error: `a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`,
        };
      container = names[0];
    }
    if (!names.includes(container))
      return { code: 400, error: `container ${container} is not valid for pod ${name}` };
    const id = containerId(pod.metadata.uid, container);
    if (this.rt.supervisor.get(id)?.state !== 'running')
      return { code: 400, error: `container ${container} in pod ${name} is not running` };
    return { id };
  }

  async stop(): Promise<void> {
    if (this.gcTimer) clearInterval(this.gcTimer);
    await this.controller?.stop();
    this.prober?.close();
    if (this.cfg.onExit === 'stop') await this.syncer?.teardownAll();
    await this.node?.stop();
    await this.server?.close();
    this.rt.stop();
  }
}

@Module({})
export class AgentModule {
  static forConfig(cfg: ResolvedAgentConfig, log: Logger): DynamicModule {
    return {
      module: AgentModule,
      providers: [
        { provide: AGENT_CONFIG, useValue: cfg },
        { provide: AGENT_LOGGER, useValue: log },
        RuntimeContext,
        AgentLifecycle,
      ],
      exports: [AgentLifecycle],
    };
  }
}
