import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Managed } from './process';
import { freePort } from './ports';
import { tempDir } from './tmp';

/**
 * Test harness for the node agent (bin/berth-agent, built into dist/ first). Needs root.
 *
 *   const agent = await startAgent({ server: cp.url, token: cp.token, nodeName: 'n1' });
 *   await agent.kill9();    // a crash: containers keep running
 *   await agent.restart();  // same flags, data dir and port
 *   await agent.stop();     // SIGTERM, then removes every container, mount and cgroup it made
 */
export interface AgentOptions {
  server: string;
  token: string;
  nodeName: string;
  /** Default: a fresh temp dir that stop() removes. */
  dataDir?: string;
  /** For an https server: the CA file (`--ca-file`), e.g. ControlPlane.caFile. */
  caFile?: string;
  /** More flags after the harness's own (--server, --token-file, --ca-file, --node-name, --data-dir, --listen). */
  extraArgs?: string[];
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

export interface TestAgent {
  proc: Managed;
  nodeName: string;
  dataDir: string;
  /** The agent's own endpoint, http://127.0.0.1:PORT. */
  url: string;
  port: number;
  /** runc --root of its containers. */
  runcRoot: string;
  stop(): Promise<void>;
  kill9(): Promise<void>;
  restart(): Promise<void>;
}

export const AGENT_READY = (node: string) => new RegExp(`berth agent ${node.replace(/\./g, '\\.')} ready\\n`);

function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'bin', 'berth-agent'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find bin/berth-agent above ' + __dirname);
    dir = up;
  }
  return dir;
}

function tryRun(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return '';
  }
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const base = path.resolve(dir);
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === base || p.startsWith(base + '/'))
    .reverse();
}

/** Cgroup directories of the agent's containers (from their bundles' config.json) in every hierarchy. */
export function agentCgroups(dataDir: string): string[] {
  const bundles = path.join(dataDir, 'bundles');
  const out: string[] = [];
  let ids: string[] = [];
  try {
    ids = readdirSync(bundles);
  } catch {
    return out;
  }
  const hier = readdirSync('/sys/fs/cgroup')
    .map((h) => path.join('/sys/fs/cgroup', h))
    .filter((p) => {
      try {
        return statSync(p).isDirectory();
      } catch {
        return false;
      }
    });
  for (const id of ids) {
    let cg: string | undefined;
    try {
      cg = (
        JSON.parse(readFileSync(path.join(bundles, id, 'config.json'), 'utf8')) as {
          linux?: { cgroupsPath?: string };
        }
      ).linux?.cgroupsPath;
    } catch {
      continue;
    }
    if (!cg || !cg.startsWith('/berth/')) continue;
    for (const h of hier) if (existsSync(path.join(h, cg))) out.push(path.join(h, cg));
  }
  return out;
}

/** Pod UIDs the agent has state for (supervisor records, pod directories). */
function agentPodUIDs(dataDir: string): string[] {
  const out = new Set<string>();
  try {
    const recs = JSON.parse(readFileSync(path.join(dataDir, 'state', 'supervisor.json'), 'utf8')) as {
      spec?: { config?: { podUID?: string } };
    }[];
    for (const r of recs) if (r.spec?.config?.podUID) out.add(r.spec.config.podUID);
  } catch {
    /* none */
  }
  try {
    for (const u of readdirSync(path.join(dataDir, 'pods'))) out.add(u);
  } catch {
    /* none */
  }
  return [...out].filter((u) => /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(u));
}

/** Kills and deletes every container under the agent's runc root, unmounts, removes cgroups. By id only. */
export function cleanupAgentData(dataDir: string): void {
  const runcRoot = path.join(dataDir, 'state', 'runc');
  const cgroups = agentCgroups(dataDir);
  const uids = agentPodUIDs(dataDir);
  if (existsSync(runcRoot)) {
    const list = tryRun('runc', ['--root', runcRoot, 'list', '-q']).split('\n').filter(Boolean);
    for (const id of list) tryRun('runc', ['--root', runcRoot, 'delete', '--force', id]);
  }
  const monitors = path.join(dataDir, 'state', 'monitor');
  if (existsSync(monitors)) {
    for (const f of readdirSync(monitors).filter((n) => n.endsWith('.conmon.pid'))) {
      const pid = Number(readFileSync(path.join(monitors, f), 'utf8').trim());
      if (pid > 1) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }
  for (const m of mountsUnder(dataDir)) tryRun('umount', ['-l', m]);
  for (const cg of cgroups) {
    for (let i = 0; i < 50 && existsSync(cg); i++) {
      try {
        rmdirSync(cg);
      } catch {
        execFileSync('sleep', ['0.05']);
      }
    }
    // the pod's parent directory, then /berth, when empty
    for (const parent of [path.dirname(cg), path.dirname(path.dirname(cg))]) {
      try {
        rmdirSync(parent);
      } catch {
        /* not empty or gone */
      }
    }
  }
  // pod cgroups whose containers' bundles were already gone (an agent stopped mid-teardown)
  for (const h of readdirSync('/sys/fs/cgroup')) {
    for (const uid of uids) {
      const dir = path.join('/sys/fs/cgroup', h, 'berth', uid);
      if (!existsSync(dir)) continue;
      for (const e of readdirSync(dir, { withFileTypes: true }))
        if (e.isDirectory()) {
          try {
            rmdirSync(path.join(dir, e.name));
          } catch {
            /* busy */
          }
        }
      try {
        rmdirSync(dir);
      } catch {
        /* busy */
      }
    }
  }
}

export async function startAgent(opts: AgentOptions): Promise<TestAgent> {
  const owned = opts.dataDir ? undefined : tempDir('berth-agent-');
  const dataDir = opts.dataDir ?? owned!.path;
  const side = tempDir('berth-agent-token-');
  const tokenFile = path.join(side.path, 'token');
  writeFileSync(tokenFile, opts.token + '\n', { mode: 0o600 });
  const port = await freePort();
  const bin = path.join(repoRoot(), 'bin', 'berth-agent');
  const args = [
    '--server',
    opts.server,
    '--token-file',
    tokenFile,
    ...(opts.caFile ? ['--ca-file', opts.caFile] : []),
    '--node-name',
    opts.nodeName,
    '--data-dir',
    dataDir,
    '--listen',
    `127.0.0.1:${port}`,
    ...(opts.extraArgs ?? []),
  ];
  const launch = async (): Promise<Managed> => {
    const proc = new Managed(`berth-agent ${opts.nodeName}`, bin, args, {
      env: { ...process.env, ...opts.env },
    });
    try {
      await proc.waitForOutput(AGENT_READY(opts.nodeName), opts.readyTimeoutMs ?? 30_000);
    } catch (e) {
      await proc.kill9();
      throw e;
    }
    return proc;
  };
  const agent: TestAgent = {
    proc: await launch(),
    nodeName: opts.nodeName,
    dataDir,
    url: `http://127.0.0.1:${port}`,
    port,
    runcRoot: path.join(dataDir, 'state', 'runc'),
    async stop() {
      await agent.proc.stop(15_000);
      cleanupAgentData(dataDir);
      side.remove();
      owned?.remove();
    },
    async kill9() {
      await agent.proc.kill9();
    },
    async restart() {
      await agent.proc.stop(15_000);
      agent.proc = await launch();
    },
  };
  return agent;
}
