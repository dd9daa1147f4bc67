import { readFileSync } from 'node:fs';
import { tryParseQuantity } from '@berth/api';
import { FlagError, parseDuration } from '../config/config';
import { DEFAULT_HOLLOW_CAPACITY, type HollowCapacity } from './hollow-status';

export interface HollowConfig {
  server: string;
  token: string;
  count: number;
  prefix: string;
  heartbeatIntervalMs: number;
  nodeStatusIntervalMs: number;
  statusConcurrency: number;
  capacity: HollowCapacity;
  logFormat: 'json' | 'pretty';
}

export const HOLLOW_USAGE = `usage: berth-hollow-nodes --control-plane URL (--token-file FILE | --token TOKEN) --count N
                          [--prefix hollow-] [--heartbeat-interval 10s] [--node-status-interval 5m]
                          [--cpu 32] [--memory 256Gi] [--pods 110] [--status-concurrency 32]
                          [--log-format json|pretty]
  Simulated nodes for scale tests only: N Node objects with Leases in one process; every pod bound
  to one of them is reported Running without running anything. Prints "berth hollow nodes ready: N"
  on stdout once registered and watching. --server is an alias of --control-plane.`;

const FLAGS = [
  '--control-plane',
  '--server',
  '--token-file',
  '--token',
  '--count',
  '--prefix',
  '--heartbeat-interval',
  '--node-status-interval',
  '--cpu',
  '--memory',
  '--pods',
  '--status-concurrency',
  '--log-format',
] as const;
type Flag = (typeof FLAGS)[number];

/** The first non-comment line of a token file; FlagError naming --token-file otherwise. */
export function readTokenFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FlagError(`--token-file: cannot read ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  const token = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith('#'));
  if (!token) throw new FlagError(`--token-file: ${file} holds no token`);
  return token;
}

/** Parses the hollow process's flags; FlagError (one line naming the flag) on bad input. */
export function parseHollowFlags(argv: string[]): HollowConfig {
  const raw = new Map<Flag, string>();
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i];
    let value: string | undefined;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    if (!(FLAGS as readonly string[]).includes(flag))
      throw new FlagError(`unknown flag ${JSON.stringify(flag)}; allowed: ${FLAGS.join(', ')}`);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new FlagError(`${flag}: needs a value`);
    }
    raw.set(flag as Flag, value);
  }
  const server = raw.get('--control-plane') ?? raw.get('--server') ?? '';
  if (!/^https?:\/\/[^\s/]+(\/\S*)?$/.test(server))
    throw new FlagError(
      server
        ? `--control-plane: must be an http:// or https:// URL (got "${server}")`
        : '--control-plane: required',
    );
  let token = raw.get('--token');
  const tokenFile = raw.get('--token-file');
  if (!token && tokenFile) token = readTokenFile(tokenFile);
  if (!token) throw new FlagError('--token-file or --token: required (the control plane bearer token)');

  const int = (flag: Flag, dflt: number, min: number, max: number): number => {
    const v = raw.get(flag);
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
      throw new FlagError(`${flag}: must be a whole number from ${min} to ${max} (got "${v}")`);
    return Number(v);
  };
  const duration = (flag: Flag, dflt: number, min: number): number => {
    const v = raw.get(flag);
    if (v === undefined) return dflt;
    const ms = v === '0' ? 0 : parseDuration(v);
    if (ms === undefined || (ms < min && ms !== 0) || (ms === 0 && min > 0))
      throw new FlagError(
        `${flag}: must be a duration such as 500ms, 10s or 1m, at least ${min} ms (got "${v}")`,
      );
    return ms;
  };
  const quantity = (flag: Flag, dflt: string): string => {
    const v = raw.get(flag);
    if (v === undefined) return dflt;
    if (tryParseQuantity(v) === undefined)
      throw new FlagError(`${flag}: must be a quantity such as 32, 500m, 256Gi (got "${v}")`);
    return v;
  };

  const prefix = raw.get('--prefix') ?? 'hollow-';
  if (!/^[a-z0-9]([-a-z0-9.]{0,200})?$/.test(prefix))
    throw new FlagError(
      `--prefix: must start with a-z or 0-9 and hold only a-z, 0-9, "-" and "." (node names are prefix + number; got "${prefix}")`,
    );
  const logFormat = raw.get('--log-format') ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'pretty')
    throw new FlagError(`--log-format: must be json or pretty (got "${logFormat}")`);
  const pods = raw.get('--pods');
  if (pods !== undefined && !/^\d+$/.test(pods))
    throw new FlagError(`--pods: must be a whole number (got "${pods}")`);

  return {
    server,
    token,
    count: int('--count', 1, 1, 100_000),
    prefix,
    heartbeatIntervalMs: duration('--heartbeat-interval', 10_000, 100),
    nodeStatusIntervalMs: duration('--node-status-interval', 300_000, 0),
    statusConcurrency: int('--status-concurrency', 32, 1, 1024),
    capacity: {
      cpu: quantity('--cpu', DEFAULT_HOLLOW_CAPACITY.cpu),
      memory: quantity('--memory', DEFAULT_HOLLOW_CAPACITY.memory),
      pods: pods ?? DEFAULT_HOLLOW_CAPACITY.pods,
    },
    logFormat,
  };
}
