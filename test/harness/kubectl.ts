import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The kubectl binaries installed with the Google Cloud SDK, by minor version (1.29 … 1.33). */
export const KUBECTL_DIR = '/usr/lib/google-cloud-sdk/bin';

export function kubectlPath(minor: number): string {
  return path.join(KUBECTL_DIR, `kubectl.1.${minor}`);
}

export function haveKubectl(minor: number): boolean {
  return existsSync(kubectlPath(minor));
}

export interface KubectlTarget {
  url: string;
  token: string;
  /** A temporary directory for kubectl's discovery/HTTP cache (never ~/.kube/cache). */
  cacheDir: string;
  /** For an https url: the CA file (`--certificate-authority`), e.g. ControlPlane.caFile. */
  caFile?: string;
}

/** kubectl reading server, CA and token from a kubeconfig file only (no connection flags). */
export interface KubeconfigTarget {
  kubeconfig: string;
  cacheDir: string;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one unmodified kubectl binary against a Berth control plane: with --server/--token (and
 * --certificate-authority) flags and no kubeconfig, or with only a kubeconfig file. Never throws
 * on a non-zero exit: the caller asserts on code and output.
 */
export function kubectl(
  minor: number,
  target: KubectlTarget | KubeconfigTarget,
  args: string[],
  opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<KubectlResult> {
  const connection =
    'kubeconfig' in target
      ? []
      : [
          `--server=${target.url}`,
          `--token=${target.token}`,
          ...(target.caFile ? [`--certificate-authority=${target.caFile}`] : []),
        ];
  const full = [...connection, `--cache-dir=${target.cacheDir}`, ...args];
  const kubeconfig = 'kubeconfig' in target ? target.kubeconfig : path.join(target.cacheDir, 'no-kubeconfig');
  return new Promise((resolve) => {
    const child = execFile(
      kubectlPath(minor),
      full,
      {
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, KUBECONFIG: kubeconfig, ...opts.env },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}
