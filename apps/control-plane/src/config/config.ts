import { plainToInstance } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  validateSync,
} from 'class-validator';

/**
 * The control plane's command-line flags, validated at boot with class-validator. parseFlags turns
 * argv into a ServerConfig or throws FlagError whose message is one line naming the bad flag.
 */
export class ServerConfig {
  @IsString()
  @IsNotEmpty()
  dataDir = '/var/lib/berth';

  @IsInt()
  @Min(0)
  @Max(65535)
  port = 6443;

  @Matches(/^[A-Za-z0-9.:-]+$/, { message: '$property must be an IP address or host name' })
  host = '127.0.0.1';

  @IsOptional()
  @Matches(/^(redis|rediss|unix):\/\/\S+$/, {
    message: '$property must be a redis://, rediss:// or unix:// URL',
  })
  redisUrl?: string;

  @IsOptional()
  @IsString()
  @IsNotEmpty()
  tokenFile?: string;

  /**
   * `--tls` / `--tls auto`: serve HTTPS with a CA and serving certificate generated (once) under
   * DATA_DIR/pki. `off` (the default without --tls-cert-file) serves plain HTTP.
   */
  @IsIn(['off', 'auto'])
  tls: 'off' | 'auto' = 'off';

  /** Serve HTTPS with this certificate (PEM; may hold the chain); needs --tls-private-key-file. */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  tlsCertFile?: string;

  @IsOptional()
  @IsString()
  @IsNotEmpty()
  tlsPrivateKeyFile?: string;

  @IsIn(['json', 'pretty'])
  logFormat: 'json' | 'pretty' = 'json';

  /** Interval of watch BOOKMARK events (ms); env BERTH_BOOKMARK_INTERVAL_MS overrides (tests). */
  @IsInt()
  @Min(100)
  bookmarkIntervalMs = 10_000;

  /**
   * Which controllers run (on the leader): `*` for all, `none`, or a comma list of names; `-name`
   * removes one (`*,-scheduler`). With none, this process only serves the API (no leader election). Names: see CONTROLLER_NAMES in controllers/.
   */
  @Matches(/^(none|(\*|-?[a-z]+)(,(\*|-?[a-z]+))*)$/, {
    message: '$property must be "*", "none" or a comma list of controller names (-name disables one)',
  })
  controllers = '*';

  /** Leader election (a Lease in kube-system): how long a lease lasts without renewal. */
  @IsInt()
  @Min(1000)
  leaderLeaseDurationMs = 15_000;

  /** The leader gives up leadership if it could not renew for this long (< lease duration). */
  @IsInt()
  @Min(500)
  leaderRenewDeadlineMs = 10_000;

  /** How often candidates try to acquire and the leader renews. */
  @IsInt()
  @Min(100)
  leaderRetryPeriodMs = 2_000;

  /** A node whose lease is not renewed for this long becomes NotReady (Ready=Unknown). */
  @IsInt()
  @Min(1000)
  nodeMonitorGracePeriodMs = 40_000;

  /** Pods on a NotReady node are deleted (and replaced elsewhere) after this long. */
  @IsInt()
  @Min(0)
  podEvictionTimeoutMs = 300_000;

  /** Events are deleted this long after they were last seen. */
  @IsInt()
  @Min(1000)
  eventTtlMs = 3_600_000;

  /** A directory of manifests the `sync` controller keeps the cluster in step with (GitOps). */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  syncDir?: string;

  /** The sync's name (its label value and inventory name); default: the directory's name. */
  @IsOptional()
  @Matches(/^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$/, {
    message:
      "$property must be lowercase letters, digits and '-' (at most 52), starting and ending with a letter or digit",
  })
  syncName?: string;

  /** Prune objects whose manifests left the directory (default true). */
  @IsIn(['true', 'false'])
  syncPrune: 'true' | 'false' = 'true';
}

export class FlagError extends Error {}

interface FlagSpec {
  key: keyof ServerConfig;
  type: 'string' | 'int' | 'duration';
}

const FLAGS: Record<string, FlagSpec> = {
  '--data-dir': { key: 'dataDir', type: 'string' },
  '--port': { key: 'port', type: 'int' },
  '--host': { key: 'host', type: 'string' },
  '--redis-url': { key: 'redisUrl', type: 'string' },
  '--token-file': { key: 'tokenFile', type: 'string' },
  '--tls': { key: 'tls', type: 'string' },
  '--tls-cert-file': { key: 'tlsCertFile', type: 'string' },
  '--tls-private-key-file': { key: 'tlsPrivateKeyFile', type: 'string' },
  '--log-format': { key: 'logFormat', type: 'string' },
  '--controllers': { key: 'controllers', type: 'string' },
  '--leader-elect-lease-duration': { key: 'leaderLeaseDurationMs', type: 'duration' },
  '--leader-elect-renew-deadline': { key: 'leaderRenewDeadlineMs', type: 'duration' },
  '--leader-elect-retry-period': { key: 'leaderRetryPeriodMs', type: 'duration' },
  '--node-monitor-grace-period': { key: 'nodeMonitorGracePeriodMs', type: 'duration' },
  '--pod-eviction-timeout': { key: 'podEvictionTimeoutMs', type: 'duration' },
  '--event-ttl': { key: 'eventTtlMs', type: 'duration' },
  '--sync-dir': { key: 'syncDir', type: 'string' },
  '--sync-name': { key: 'syncName', type: 'string' },
  '--sync-prune': { key: 'syncPrune', type: 'string' },
};

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go-style durations as kube-controller-manager takes them: 500ms, 40s, 5m, 1h30m. */
export function parseDuration(v: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(v)) return undefined;
  let total = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * UNIT_MS[m[2]];
  return Math.round(total);
}

const FLAG_OF: Partial<Record<keyof ServerConfig, string>> = Object.fromEntries(
  Object.entries(FLAGS).map(([flag, s]) => [s.key, flag]),
);

export const USAGE = `usage: berth-control-plane [--data-dir DIR] [--port N] [--host ADDR] [--redis-url URL]
                          [--token-file FILE] [--tls [auto|off] | --tls-cert-file FILE --tls-private-key-file FILE]
                          [--log-format json|pretty] [--controllers *|a,b,-c]
                          [--leader-elect-lease-duration 15s] [--leader-elect-renew-deadline 10s]
                          [--leader-elect-retry-period 2s] [--node-monitor-grace-period 40s]
                          [--pod-eviction-timeout 5m] [--event-ttl 1h]
                          [--sync-dir DIR [--sync-name NAME] [--sync-prune true|false]]`;

/** Parses argv (without node and script) and the environment into a validated ServerConfig. */
export function parseFlags(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  isTty = false,
): ServerConfig {
  const raw: Record<string, unknown> = { logFormat: isTty ? 'pretty' : 'json' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    let flag = arg;
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      flag = arg.slice(0, eq);
      value = arg.slice(eq + 1);
    }
    const spec = FLAGS[flag];
    if (!spec)
      throw new FlagError(`unknown flag ${JSON.stringify(arg)}; allowed: ${Object.keys(FLAGS).join(', ')}`);
    // --tls alone (or before another flag) means --tls auto.
    if (
      value === undefined &&
      flag === '--tls' &&
      (argv[i + 1] === undefined || argv[i + 1].startsWith('--'))
    )
      value = 'auto';
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new FlagError(`flag ${flag} needs a value`);
    }
    if (spec.type === 'int') {
      if (!/^\d+$/.test(value))
        throw new FlagError(`flag ${flag}: ${JSON.stringify(value)} is not a whole number`);
      raw[spec.key] = Number(value);
    } else if (spec.type === 'duration') {
      const ms = parseDuration(value);
      if (ms === undefined)
        throw new FlagError(
          `flag ${flag}: ${JSON.stringify(value)} is not a duration such as 500ms, 40s, 5m or 1h`,
        );
      raw[spec.key] = ms;
    } else raw[spec.key] = value;
  }
  const bm = env.BERTH_BOOKMARK_INTERVAL_MS;
  if (bm !== undefined && bm !== '') {
    if (!/^\d+$/.test(bm))
      throw new FlagError(`BERTH_BOOKMARK_INTERVAL_MS: ${JSON.stringify(bm)} is not a whole number`);
    raw.bookmarkIntervalMs = Number(bm);
  }
  const cfg = plainToInstance(ServerConfig, raw);
  const errors = validateSync(cfg, { forbidUnknownValues: true });
  if (errors.length) {
    const e = errors[0];
    const name = FLAG_OF[e.property as keyof ServerConfig] ?? e.property;
    const why = Object.values(e.constraints ?? {})[0] ?? 'is invalid';
    throw new FlagError(`flag ${name}: ${JSON.stringify(e.value)} ${why.replace(/^\S+ /, '')}`);
  }
  if (Boolean(cfg.tlsCertFile) !== Boolean(cfg.tlsPrivateKeyFile))
    throw new FlagError('flags --tls-cert-file and --tls-private-key-file go together: give both or neither');
  if (cfg.tlsCertFile && raw.tls === 'off')
    throw new FlagError('flag --tls off contradicts --tls-cert-file; drop one of them');
  return cfg;
}

/** The Nest injection token of the ServerConfig. */
export const SERVER_CONFIG = Symbol('SERVER_CONFIG');
