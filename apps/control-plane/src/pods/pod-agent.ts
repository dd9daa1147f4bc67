import { ApiError, type KubeObject } from '@berth/api';

/**
 * The container a pod subresource (log, exec) is about: the one named, or the only one; errors
 * read as Kubernetes' do (kubectl prints them as they are).
 */
export function podContainer(pod: KubeObject, requested: string | undefined): string {
  const name = pod.metadata.name!;
  const containers: string[] = (pod.spec?.containers ?? []).map((c: { name: string }) => c.name);
  if (!requested) {
    if (containers.length !== 1)
      throw new ApiError(
        'BadRequest',
        `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`,
      );
    return containers[0];
  }
  if (!containers.includes(requested))
    throw new ApiError('BadRequest', `container ${requested} is not valid for pod ${name}`);
  return requested;
}

/**
 * The agent endpoint of the node a pod runs on (the Node's InternalIP, else its first address, and
 * its kubelet endpoint port). `notScheduled` and `noEndpoint` end the two messages a caller words
 * its own way (": it has no logs", " for logs").
 */
export function podAgentEndpoint(
  pod: KubeObject,
  node: KubeObject | undefined,
  notScheduled: string,
  noEndpoint: string,
): { host: string; port: number } {
  const name = pod.metadata.name!;
  const nodeName: string | undefined = pod.spec?.nodeName;
  if (!nodeName)
    throw new ApiError('BadRequest', `pod ${name} is not scheduled to a node yet${notScheduled}`);
  if (!node) throw new ApiError('ServiceUnavailable', `node ${nodeName} of pod ${name} is not registered`);
  const addrs: Array<{ type: string; address: string }> = node.status?.addresses ?? [];
  const host = addrs.find((a) => a.type === 'InternalIP')?.address ?? addrs[0]?.address;
  const port = Number(node.status?.daemonEndpoints?.kubeletEndpoint?.Port);
  if (!host || !port)
    throw new ApiError(
      'ServiceUnavailable',
      `node ${nodeName} does not publish an agent endpoint${noEndpoint}`,
    );
  return { host, port };
}
