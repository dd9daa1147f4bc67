import { kindFor, type KubeObject } from '@berth/api';
import { listAndWatch, type BerthClient } from '@berth/client';

const POD = kindFor('v1', 'Pod')!;

/** Whether `up`'s binder should bind this pod: not bound yet and not being deleted. */
export function needsBinding(pod: KubeObject): boolean {
  return !pod.spec?.nodeName && !pod.metadata.deletionTimestamp;
}

/**
 * Until the scheduler exists (issue 4), `berthctl up` binds every pod that has no
 * `spec.nodeName` to its one local node: it watches unbound pods and sets spec.nodeName with a
 * merge patch that carries the resourceVersion it saw (a pod changed meanwhile is seen again).
 * Runs until `signal` aborts; failures are reported through `warn` and retried by listAndWatch.
 */
export async function runLocalBinder(
  client: BerthClient,
  nodeName: string,
  signal: AbortSignal,
  warn: (msg: string) => void,
): Promise<void> {
  const bind = async (pod: KubeObject): Promise<void> => {
    if (!needsBinding(pod)) return;
    try {
      await client.patch(POD, pod.metadata.namespace, pod.metadata.name!, {
        metadata: { resourceVersion: pod.metadata.resourceVersion },
        spec: { nodeName },
      });
    } catch (e) {
      // A conflict or a deleted pod shows up again in the watch (or not at all): nothing to do.
      const code = (e as { code?: number }).code;
      if (code !== 409 && code !== 404)
        warn(`cannot bind pod ${pod.metadata.namespace}/${pod.metadata.name}: ${(e as Error).message}`);
    }
  };
  try {
    for await (const ev of listAndWatch<KubeObject>(
      client,
      POD,
      { fieldSelector: 'spec.nodeName=' },
      signal,
    )) {
      if (ev.type === 'SYNC') for (const p of ev.items) await bind(p);
      else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') await bind(ev.object);
    }
  } catch (e) {
    if (!signal.aborted) warn(`pod binder stopped: ${(e as Error).message}`);
  }
}
