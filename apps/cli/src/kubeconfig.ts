import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export interface KubeconfigEntry {
  /** Cluster and context name; the user is `NAME-admin`. */
  name: string;
  /** https://HOST:PORT */
  server: string;
  /** The CA certificate (PEM) that signed the server's certificate; embedded as certificate-authority-data. */
  caPem: string;
  token: string;
  namespace?: string;
}

/** A kubeconfig (clientcmd v1 Config) with one cluster, user and context, made current. */
export function kubeconfigYaml(e: KubeconfigEntry): string {
  const user = `${e.name}-admin`;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: e.name,
        cluster: { server: e.server, 'certificate-authority-data': Buffer.from(e.caPem).toString('base64') },
      },
    ],
    users: [{ name: user, user: { token: e.token } }],
    contexts: [{ name: e.name, context: { cluster: e.name, user, namespace: e.namespace ?? 'default' } }],
    'current-context': e.name,
    preferences: {},
  };
  return YAML.stringify(doc);
}

/** Writes a kubeconfig atomically with mode 0600 (it holds the admin token). */
export function writeKubeconfig(file: string, e: KubeconfigEntry): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, kubeconfigYaml(e), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
