import { EventEmitter } from 'node:events';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  buildSpec,
  cgroupPathFor,
  previousLogPath,
  resolveUser,
  type BuildSpecOptions,
  type ContainerConfig,
  type ExitEvent,
  type OciSpec,
} from '../runtime';
import type { Mounter, Snapshotter } from '../snapshots';
import { restartDecision, DEFAULT_BACKOFF, type BackoffConfig, type RestartPolicy } from './restart-decision';

/** What the supervisor needs from the runtime (RuncRuntime implements it). */
export interface SupervisedRuntime {
  run(id: string, bundleDir: string, logPath: string): Promise<{ pid: number }>;
  state(id: string): Promise<{ status: string; pid: number } | undefined>;
  kill(id: string, signal: string | number): Promise<void>;
  delete(id: string, opts: { force?: boolean }): Promise<void>;
}

/** The source of exit events (ExitWatcher implements it). */
export interface ExitSource {
  on(event: 'exit', fn: (ev: ExitEvent) => void): unknown;
  off(event: 'exit', fn: (ev: ExitEvent) => void): unknown;
  start(): Promise<void>;
  forget(id: string): void;
}

export interface BundleWriter {
  prepare(id: string): Promise<string>;
  rootfs(id: string): string;
  writeSpec(id: string, spec: OciSpec): Promise<void>;
  remove(id: string): Promise<void>;
}

export interface CgroupRemover {
  remove(cgroupPath: string): Promise<void>;
  /** Removes a pod's whole cgroup subtree (optional; called when its last container is stopped). */
  removePod?(podUID: string): Promise<void>;
  /** How often the kernel's OOM killer struck in this cgroup (optional). */
  oomKills?(cgroupPath: string): Promise<number>;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** A container to keep running: its config (rootfs is filled in by the supervisor) and image layers. */
export interface SupervisedContainer {
  config: Omit<ContainerConfig, 'rootfs'>;
  /** Image layer directories, lowest first. */
  layers: string[];
  restartPolicy: RestartPolicy;
  /**
   * Resolve config.user from the image's /etc/passwd and /etc/group once the rootfs is mounted
   * (used when config.user is not set): the image's User, overridden by runAsUser/runAsGroup.
   */
  userFromImage?: { imageUser?: string; runAsUser?: number; runAsGroup?: number };
  /** Defaults to <stateDir>/logs/<id>.log. */
  logPath?: string;
}

export interface TerminatedState {
  exitCode: number;
  reason: string;
  startedAt?: string;
  finishedAt: string;
}

/** Kubernetes-shaped container status, persisted across agent restarts. */
export interface ContainerRecord {
  id: string;
  spec: SupervisedContainer;
  logPath: string;
  state: 'waiting' | 'running' | 'terminated';
  /** waiting: ContainerCreating | CrashLoopBackOff | StartError; terminated: Completed | Error. */
  reason?: string;
  message?: string;
  startedAt?: string;
  pid?: number;
  exitCode?: number;
  finishedAt?: string;
  restartCount: number;
  crashCount: number;
  lastState?: TerminatedState;
  nextRestartAt?: string;
}

export interface SupervisorDeps {
  runtime: SupervisedRuntime;
  exits: ExitSource;
  snapshots: Snapshotter;
  mounter: Mounter;
  bundles: BundleWriter;
  cgroups: CgroupRemover;
  clock?: Clock;
}

export interface SupervisorOptions {
  /** Where supervisor.json and (by default) logs/ live. */
  stateDir: string;
  backoff?: BackoffConfig;
  spec?: BuildSpecOptions;
  /** Polling while waiting for a signalled container to exit, in case an exit event is missed. */
  stopPollMs?: number;
}

const START_FAILED_EXIT = 128;

/**
 * Keeps containers running according to their restart policy: starts them (snapshot → mount →
 * bundle → runtime), reacts to exit events with restartDecision, counts restarts, keeps the last
 * terminated state, and persists all of it as JSON so a restarted agent carries on. stop() takes a
 * container down and removes everything it used. Emits 'status' (ContainerRecord copy) on changes.
 */
export class ContainerSupervisor extends EventEmitter<{ status: [ContainerRecord]; error: [Error] }> {
  private readonly records = new Map<string, ContainerRecord>();
  private readonly timers = new Map<string, unknown>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly exitWaiters = new Map<string, Set<() => void>>();
  private readonly stopping = new Set<string>();
  private readonly clock: Clock;
  private readonly stateFile: string;
  private saving: Promise<void> = Promise.resolve();
  private readonly onExit = (ev: ExitEvent) => void this.handleExit(ev);

  constructor(
    private readonly deps: SupervisorDeps,
    private readonly opts: SupervisorOptions,
  ) {
    super();
    this.clock = deps.clock ?? realClock;
    this.stateFile = path.join(opts.stateDir, 'supervisor.json');
  }

  /**
   * Loads the persisted records, listens for exits (the exit source's first scan reports exits that
   * happened while the agent was down), re-arms pending restarts, and settles containers the
   * runtime no longer knows.
   */
  async start(): Promise<void> {
    await fs.mkdir(this.opts.stateDir, { recursive: true });
    try {
      const saved = JSON.parse(await fs.readFile(this.stateFile, 'utf8')) as ContainerRecord[];
      for (const r of saved) this.records.set(r.id, r);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.fail(e);
    }
    this.deps.exits.on('exit', this.onExit);
    await this.deps.exits.start();
    for (const r of [...this.records.values()]) {
      if (r.state === 'waiting' && r.nextRestartAt) {
        this.schedule(r.id, Math.max(0, Date.parse(r.nextRestartAt) - this.clock.now()));
      } else if (r.state === 'waiting') {
        this.schedule(r.id, 0);
      } else if (r.state === 'running') {
        const st = await this.deps.runtime.state(r.id).catch(() => undefined);
        // gone without an exit file: its exit code is lost
        if (!st)
          await this.handleExit({ id: r.id, exitCode: 255, exitedAt: new Date(this.clock.now()) }, 'Unknown');
      }
    }
  }

  /** Stops listening and cancels restart timers; containers keep running. */
  close(): void {
    this.deps.exits.off('exit', this.onExit);
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
  }

  get(id: string): ContainerRecord | undefined {
    const r = this.records.get(id);
    return r && structuredClone(r);
  }

  list(): ContainerRecord[] {
    return [...this.records.values()].map((r) => structuredClone(r));
  }

  /** Starts a container and keeps it running per its restart policy. Resolves once it has started (or failed to). */
  async run(spec: SupervisedContainer): Promise<ContainerRecord> {
    const id = spec.config.id;
    if (this.records.has(id)) throw new Error(`container ${id} is already supervised`);
    const rec: ContainerRecord = {
      id,
      spec,
      logPath: spec.logPath ?? path.join(this.opts.stateDir, 'logs', `${id}.log`),
      state: 'waiting',
      reason: 'ContainerCreating',
      restartCount: 0,
      crashCount: 0,
    };
    this.records.set(id, rec);
    await this.persist();
    await this.locked(id, () => this.launch(rec));
    return this.get(id)!;
  }

  /**
   * Stops a container and removes everything it used: SIGTERM, SIGKILL after `graceSeconds`, runc
   * delete, unmount, snapshot, cgroup directories (and empty parents), bundle, logs.
   */
  async stop(id: string, graceSeconds = 30, opts: { keepLogs?: boolean } = {}): Promise<void> {
    this.stopping.add(id);
    const t = this.timers.get(id);
    if (t !== undefined) this.clock.clearTimeout(t);
    this.timers.delete(id);
    try {
      await this.locked(id, async () => {
        const rec = this.records.get(id);
        await this.terminate(id, graceSeconds);
        await this.cleanup(id, rec?.spec.config.podUID);
        if (rec && !opts.keepLogs) {
          await fs.rm(rec.logPath, { force: true });
          await fs.rm(previousLogPath(rec.logPath), { force: true });
        }
        this.records.delete(id);
        await this.persist();
        // the pod's last container: sweep the pod's cgroup directory in every hierarchy too
        const podUID = rec?.spec.config.podUID;
        if (
          podUID &&
          this.deps.cgroups.removePod &&
          !this.list().some((r) => r.spec.config.podUID === podUID)
        )
          await this.deps.cgroups.removePod(podUID).catch((e) => this.fail(e));
      });
    } finally {
      this.stopping.delete(id);
    }
  }

  /**
   * Kills the current run of a container (SIGTERM, SIGKILL after `graceSeconds`) without
   * removing it: its exit then goes through the restart policy like any other (a failed liveness
   * probe). Does nothing unless the container is running the run that started at `startedAt`.
   */
  async killRun(id: string, startedAt: string, graceSeconds: number): Promise<boolean> {
    const rec = this.records.get(id);
    if (!rec || rec.state !== 'running' || rec.startedAt !== startedAt || this.stopping.has(id)) return false;
    await this.terminate(id, graceSeconds);
    return true;
  }

  // ---- internals ----

  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return next;
  }

  private changed(rec: ContainerRecord): Promise<void> {
    this.emit('status', structuredClone(rec));
    return this.persist();
  }

  /** Resolves when no operation is in flight and the state file is written. */
  async idle(): Promise<void> {
    while (this.locks.size) await Promise.all([...this.locks.values()]);
    await this.saving.catch(() => undefined);
  }

  /** Reports an error to 'error' listeners; never throws (an EventEmitter without one would). */
  private fail(e: unknown): void {
    if (this.listenerCount('error')) this.emit('error', e instanceof Error ? e : new Error(String(e)));
  }

  private persist(): Promise<void> {
    const write = async () => {
      const tmp = `${this.stateFile}.tmp`;
      await fs.writeFile(tmp, JSON.stringify([...this.records.values()], null, 1));
      await fs.rename(tmp, this.stateFile);
    };
    this.saving = this.saving.then(write, write);
    return this.saving;
  }

  /** Fresh writable layer, mount, bundle, then create+start through the monitor. */
  private async launch(rec: ContainerRecord): Promise<void> {
    const { id } = rec;
    if (this.stopping.has(id) || !this.records.has(id)) return;
    const { runtime, snapshots, mounter, bundles } = this.deps;
    try {
      // leftovers of the previous run: runc state, mount, writable layer (Kubernetes semantics)
      await runtime.delete(id, { force: true });
      const rootfs = bundles.rootfs(id);
      await mounter.unmount(rootfs);
      await snapshots.remove(id);
      await bundles.prepare(id);
      const mount = await snapshots.prepare(id, rec.spec.layers);
      await mounter.mount(mount, rootfs);
      let user = rec.spec.config.user;
      const u = rec.spec.userFromImage;
      if (!user && u) user = await resolveUser(rootfs, u.imageUser, u.runAsUser, u.runAsGroup);
      await bundles.writeSpec(id, buildSpec({ ...rec.spec.config, rootfs, user }, this.opts.spec));
      await this.rotateLog(rec.logPath);
      this.deps.exits.forget(id);
      const startedAt = new Date(this.clock.now()).toISOString();
      const { pid } = await runtime.run(id, path.dirname(rootfs), rec.logPath);
      Object.assign(rec, {
        state: 'running',
        startedAt,
        pid,
        reason: undefined,
        message: undefined,
        nextRestartAt: undefined,
      });
      delete rec.exitCode;
      delete rec.finishedAt;
      await this.changed(rec);
    } catch (e) {
      const message = (e as Error).message;
      rec.startedAt = undefined;
      await this.exited(rec, START_FAILED_EXIT, new Date(this.clock.now()), 'StartError', message);
    }
  }

  private async rotateLog(logPath: string): Promise<void> {
    await fs.mkdir(path.dirname(logPath), { recursive: true });
    await fs.rename(logPath, previousLogPath(logPath)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  private async handleExit(ev: ExitEvent, reasonOverride?: string): Promise<void> {
    for (const w of this.exitWaiters.get(ev.id) ?? []) w();
    if (this.stopping.has(ev.id)) return;
    await this.locked(ev.id, async () => {
      const rec = this.records.get(ev.id);
      if (!rec || rec.state !== 'running') return;
      // an exit file older than this run belongs to an earlier one
      if (rec.startedAt && ev.exitedAt.getTime() < Date.parse(rec.startedAt) - 1000) return;
      await this.exited(rec, ev.exitCode, ev.exitedAt, reasonOverride);
    });
  }

  private async exited(
    rec: ContainerRecord,
    exitCode: number,
    exitedAt: Date,
    reasonOverride?: string,
    message?: string,
  ): Promise<void> {
    const cgroupPath = cgroupPathFor(rec.spec.config.podUID, rec.id, this.opts.spec?.cgroupParent);
    const finishedAt = exitedAt.toISOString();
    let reason = reasonOverride ?? (exitCode === 0 ? 'Completed' : 'Error');
    // the cgroup still exists until runc delete: ask it whether the kernel OOM-killed the process
    if (!reasonOverride && exitCode !== 0 && this.deps.cgroups.oomKills) {
      const kills = await this.deps.cgroups.oomKills(cgroupPath).catch(() => 0);
      if (kills > 0) reason = 'OOMKilled';
    }
    const last: TerminatedState = { exitCode, reason, startedAt: rec.startedAt, finishedAt };
    const now = this.clock.now();
    const d = restartDecision(
      rec.spec.restartPolicy,
      exitCode,
      {
        restartCount: rec.restartCount,
        crashCount: rec.crashCount,
        lastStartedAt: rec.startedAt ? Date.parse(rec.startedAt) : undefined,
        lastExitAt: exitedAt.getTime(),
      },
      now,
      this.opts.backoff ?? DEFAULT_BACKOFF,
    );
    delete rec.pid;
    if (!d.restart) {
      Object.assign(rec, {
        state: 'terminated',
        reason,
        exitCode,
        finishedAt,
        message,
        nextRestartAt: undefined,
      });
    } else {
      rec.lastState = last;
      rec.crashCount = d.crashCount;
      Object.assign(rec, {
        state: 'waiting',
        reason: d.delayMs > 0 ? 'CrashLoopBackOff' : (reasonOverride ?? undefined),
        message:
          d.delayMs > 0
            ? `back-off ${Math.round(d.delayMs / 1000)}s restarting failed container ${rec.spec.config.name}`
            : message,
        nextRestartAt: new Date(now + d.delayMs).toISOString(),
      });
      delete rec.exitCode;
      delete rec.finishedAt;
    }
    // the timer's launch takes this container's lock, so it runs after the cleanup below
    if (d.restart) this.schedule(rec.id, d.delayMs);
    // record the exit before the runtime forgets it (runc delete also drops the exit file)
    await this.changed(rec);
    // the process is gone: drop runc's state and cgroups now, keep the rootfs until restart/stop
    await this.deps.runtime.delete(rec.id, { force: true }).catch((e) => this.fail(e));
    await this.deps.cgroups.remove(cgroupPath).catch((e) => this.fail(e));
  }

  private schedule(id: string, delayMs: number): void {
    const old = this.timers.get(id);
    if (old !== undefined) this.clock.clearTimeout(old);
    this.timers.set(
      id,
      this.clock.setTimeout(() => {
        this.timers.delete(id);
        void this.locked(id, async () => {
          const rec = this.records.get(id);
          if (!rec || rec.state !== 'waiting' || this.stopping.has(id)) return;
          rec.restartCount++;
          await this.launch(rec);
        }).catch((e) => this.fail(e));
      }, delayMs),
    );
  }

  /** SIGTERM, then SIGKILL after the grace period, until the runtime reports it stopped. */
  private async terminate(id: string, graceSeconds: number): Promise<void> {
    const { runtime } = this.deps;
    const alive = async () => {
      const st = await runtime.state(id).catch(() => undefined);
      return !!st && (st.status === 'running' || st.status === 'created' || st.status === 'paused');
    };
    if (!(await alive())) return;
    await runtime.kill(id, 'SIGTERM');
    if (await this.waitExit(id, graceSeconds * 1000, alive)) return;
    await runtime.kill(id, 'SIGKILL');
    await this.waitExit(id, 10_000, alive);
  }

  /** Resolves true when the container exits (exit event or polled state) within `ms`, else false. */
  private waitExit(id: string, ms: number, alive: () => Promise<boolean>): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let done = false;
      const waiters = this.exitWaiters.get(id) ?? new Set<() => void>();
      this.exitWaiters.set(id, waiters);
      const finish = (v: boolean) => {
        if (done) return;
        done = true;
        waiters.delete(finish0);
        if (!waiters.size) this.exitWaiters.delete(id);
        this.clock.clearTimeout(timer);
        clearInterval(poll);
        resolve(v);
      };
      const finish0 = () => finish(true);
      waiters.add(finish0);
      const timer = this.clock.setTimeout(() => finish(false), ms);
      const poll = setInterval(() => {
        void alive().then((a) => !a && finish(true));
      }, this.opts.stopPollMs ?? 200);
    });
  }

  /** Removes the runtime state, mount, snapshot, cgroups and bundle of `id`. Safe to repeat. */
  private async cleanup(id: string, podUID: string | undefined): Promise<void> {
    const { runtime, mounter, snapshots, bundles, cgroups } = this.deps;
    await runtime.delete(id, { force: true });
    await mounter.unmount(bundles.rootfs(id));
    await snapshots.remove(id);
    if (podUID) await cgroups.remove(cgroupPathFor(podUID, id, this.opts.spec?.cgroupParent));
    await bundles.remove(id);
  }
}
