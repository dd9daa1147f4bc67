import { ApiError, type KubeObject } from '@berth/api';
import { kindOf, type BerthClient } from '@berth/client';

export type ApplyVerb = 'created' | 'configured' | 'unchanged';

export interface ApplyObjectOptions {
  fieldManager: string;
  /** Server-side dry run: validated and merged by the server, nothing stored. */
  dryRun?: boolean;
  /** Take over fields other managers own. */
  force?: boolean;
  /**
   * The live object as the caller knows it (from an informer or a list): saves the GET before the
   * apply. `null` means known to be absent; undefined means unknown (GET it).
   */
  before?: KubeObject | null;
}

/** Fields the server owns; two objects that differ only there are the same desired state. */
function comparable(o: KubeObject): unknown {
  const { resourceVersion: _rv, managedFields: _mf, generation: _g, ...meta } = o.metadata ?? {};
  return { ...o, metadata: meta };
}

/**
 * Server-side apply of one object and what it did, the one apply of berthctl apply and the sync:
 * created (it did not exist), configured (the server changed it) or unchanged.
 */
export async function applyObject(
  client: BerthClient,
  obj: KubeObject,
  opts: ApplyObjectOptions,
): Promise<{ verb: ApplyVerb; object: KubeObject }> {
  const kind = kindOf(obj);
  let before = opts.before ?? undefined;
  if (opts.before === undefined) {
    try {
      before = await client.get(kind, obj.metadata.namespace, obj.metadata.name!);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
  }
  const after = await client.apply(obj, {
    fieldManager: opts.fieldManager,
    dryRun: opts.dryRun,
    force: opts.force,
  });
  let verb: ApplyVerb;
  if (!before) verb = 'created';
  else if (opts.dryRun)
    verb =
      JSON.stringify(comparable(before)) === JSON.stringify(comparable(after)) ? 'unchanged' : 'configured';
  else
    verb = before.metadata.resourceVersion === after.metadata?.resourceVersion ? 'unchanged' : 'configured';
  return { verb, object: after };
}
