import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { ApiError, KINDS, kindFor, type KindInfo, type KubeObject } from '@berth/api';
import { BY_OWNER, objectKey, runReconciler, splitKey, type Informer, type Watch } from '@berth/controllers';
import type { ResourceStore } from '@berth/store';
import type { Logger } from 'pino';
import { ControllerManager, type Controller } from '../controllers/controller-manager';
import { CONTROLLER_STORE } from '../controllers/controllers.module';
import { SharedInformers } from '../controllers/shared-informers';
import { LOGGER } from '../logging/logger';
import {
  decideDependent,
  decideOwner,
  FINALIZER_FOREGROUND,
  ownerRefs,
  type OwnerRef,
  type OwnerState,
} from './ownership';

const BY_UID = 'uid';

/**
 * Garbage collection through ownerReferences, for every kind but Events: deletes objects whose
 * owners are all gone (background cascade: deleting a Deployment removes its ReplicaSets, then
 * their pods), and carries out the `orphan` and `foregroundDeletion` finalizers that a delete with
 * propagationPolicy Orphan / Foreground puts on the owner. An owner missing from the caches is
 * confirmed missing with a read from the store before anything is deleted (the cache may lag).
 */
@Injectable()
export class GarbageCollectorController implements Controller, OnModuleInit {
  readonly name = 'garbagecollector';
  private readonly informers = new Map<string, Informer>();

  constructor(
    shared: SharedInformers,
    private readonly manager: ControllerManager,
    @Inject(CONTROLLER_STORE) private readonly store: ResourceStore,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    for (const k of KINDS) {
      if (k.kind === 'Event') continue;
      const inf = shared.for(k);
      inf.addIndex(BY_UID, (o) => (o.metadata.uid ? [o.metadata.uid] : []));
      this.informers.set(k.resource, inf);
    }
  }

  onModuleInit(): void {
    this.manager.register(this);
  }

  async run(signal: AbortSignal): Promise<void> {
    const watches: Watch[] = [...this.informers.values()].map((inf) => ({
      informer: inf,
      keys: (o: KubeObject) => this.keysFor(inf, o),
    }));
    await runReconciler(
      {
        name: this.name,
        workers: 4,
        reconcile: (key) => this.reconcile(key),
        watches,
        onError: (key, err) =>
          this.log.warn({ object: key, err: (err as Error).message }, 'garbage collector: retrying'),
      },
      signal,
    );
  }

  /**
   * The object itself; when it is gone (a delete event: the informer no longer has it), its
   * dependents; when it is a dependent of an owner being deleted in the foreground, that owner.
   */
  private keysFor(inf: Informer, o: KubeObject): string[] {
    const self = `${inf.kind.resource}|${objectKey(o)}`;
    const keys = [self];
    const gone = inf.get(objectKey(o))?.metadata.uid !== o.metadata.uid;
    if (gone || o.metadata.deletionTimestamp) {
      for (const d of this.dependentsOf(o.metadata.uid as string)) keys.push(d.key);
    }
    for (const r of ownerRefs(o)) {
      const owner = this.findByUid(r);
      if (owner?.obj.metadata.deletionTimestamp) keys.push(owner.key);
    }
    return keys;
  }

  private dependentsOf(uid: string): { key: string; obj: KubeObject; kind: KindInfo }[] {
    const out: { key: string; obj: KubeObject; kind: KindInfo }[] = [];
    for (const inf of this.informers.values()) {
      for (const d of inf.byIndex(BY_OWNER, uid)) {
        out.push({ key: `${inf.kind.resource}|${objectKey(d)}`, obj: d, kind: inf.kind });
      }
    }
    return out;
  }

  private findByUid(r: OwnerRef): { key: string; obj: KubeObject } | undefined {
    const k = kindFor(r.apiVersion, r.kind);
    const inf = k && this.informers.get(k.resource);
    const o = inf?.byIndex(BY_UID, r.uid)[0];
    return o && inf ? { key: `${inf.kind.resource}|${objectKey(o)}`, obj: o } : undefined;
  }

  async reconcile(key: string): Promise<void> {
    const bar = key.indexOf('|');
    const inf = this.informers.get(key.slice(0, bar));
    if (!inf) return;
    const obj = inf.get(key.slice(bar + 1));
    if (!obj) return;
    const kind = inf.kind;
    const { namespace, name } = splitKey(key.slice(bar + 1));

    // As an owner being deleted with one of our finalizers.
    const act = decideOwner(
      obj,
      this.dependentsOf(obj.metadata.uid as string).map((d) => d.obj),
    );
    if (act.type === 'orphanDependents') {
      for (const d of this.dependentsOf(obj.metadata.uid as string)) {
        await this.dropRefs(d.kind, d.obj, [obj.metadata.uid as string]);
      }
      return; // the dependents' updates bring us back (keysFor: owner being deleted)
    }
    if (act.type === 'deleteDependents') {
      for (const d of this.dependentsOf(obj.metadata.uid as string)) {
        if (d.obj.metadata.deletionTimestamp) continue;
        const block = ownerRefs(d.obj).some((r) => r.uid === obj.metadata.uid && r.blockOwnerDeletion);
        await this.deleteQuietly(d.kind, d.obj, block ? 'Foreground' : 'Background');
      }
      return;
    }
    if (act.type === 'removeFinalizer') {
      await this.removeFinalizer(kind, namespace, name, obj.metadata.uid as string, act.finalizer);
      return;
    }

    // As a dependent.
    const refs = ownerRefs(obj);
    if (!refs.length) return;
    const states = new Map<string, OwnerState>();
    for (const r of refs) states.set(r.uid, await this.ownerState(r, obj));
    const dep = decideDependent(obj, states);
    if (dep.type === 'delete') {
      // Owners being deleted in the foreground delete theirs in the foreground too.
      this.log.info({ object: key }, 'garbage collector: owner gone, deleting');
      await this.deleteQuietly(kind, obj, 'Background');
    } else if (dep.type === 'dropRefs') {
      await this.dropRefs(kind, obj, dep.uids);
    }
  }

  /** present / absent (confirmed by a store read) / unknown (a kind we do not serve). */
  private async ownerState(r: OwnerRef, dependent: KubeObject): Promise<OwnerState> {
    const k = kindFor(r.apiVersion, r.kind);
    if (!k) return 'unknown';
    if (this.findByUid(r)) return 'present';
    // A namespaced dependent can only have owners in its namespace or cluster-scoped ones.
    const ns = k.namespaced ? dependent.metadata.namespace : undefined;
    if (k.namespaced && !ns) return 'absent';
    try {
      const live = await this.store.get(k, ns, r.name);
      return live.metadata.uid === r.uid ? 'present' : 'absent';
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return 'absent';
      throw e;
    }
  }

  private async deleteQuietly(
    kind: KindInfo,
    o: KubeObject,
    policy: 'Foreground' | 'Background',
  ): Promise<void> {
    try {
      await this.store.delete(kind, o.metadata.namespace, o.metadata.name as string, {
        preconditions: { uid: o.metadata.uid },
        propagationPolicy: policy === 'Foreground' ? 'Foreground' : undefined,
      });
    } catch (e) {
      if (e instanceof ApiError && (e.code === 404 || (e.code === 409 && !isFenced(e)))) return;
      throw e;
    }
  }

  private async dropRefs(kind: KindInfo, o: KubeObject, uids: string[]): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      let cur: KubeObject;
      try {
        cur = await this.store.get(kind, o.metadata.namespace, o.metadata.name as string);
      } catch (e) {
        if (e instanceof ApiError && e.code === 404) return;
        throw e;
      }
      if (cur.metadata.uid !== o.metadata.uid) return;
      const refs = ownerRefs(cur).filter((r) => !uids.includes(r.uid));
      if (refs.length === ownerRefs(cur).length) return;
      cur.metadata.ownerReferences = refs.length ? refs : undefined;
      if (!refs.length) delete cur.metadata.ownerReferences;
      try {
        await this.store.update(kind, cur);
        return;
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 409 && !isFenced(e))) throw e;
      }
    }
    throw new Error(`could not update the ownerReferences of ${kind.resource} ${o.metadata.name}`);
  }

  private async removeFinalizer(
    kind: KindInfo,
    ns: string | undefined,
    name: string,
    uid: string,
    finalizer: string,
  ): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      let cur: KubeObject;
      try {
        cur = await this.store.get(kind, ns, name);
      } catch (e) {
        if (e instanceof ApiError && e.code === 404) return;
        throw e;
      }
      if (cur.metadata.uid !== uid || !cur.metadata.finalizers?.includes(finalizer)) return;
      if (finalizer === FINALIZER_FOREGROUND && this.dependentsOf(uid).length) return;
      cur.metadata.finalizers = cur.metadata.finalizers.filter((f) => f !== finalizer);
      try {
        await this.store.update(kind, cur);
        return;
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 409 && !isFenced(e))) throw e;
      }
    }
    throw new Error(`could not remove the ${finalizer} finalizer of ${kind.resource} ${name}`);
  }
}

function isFenced(e: ApiError): boolean {
  return !!e.details?.causes?.some((c) => c.reason === 'Fenced');
}
