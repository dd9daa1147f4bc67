import { readFileSync } from 'node:fs';
import os from 'node:os';
import { plainToInstance } from 'class-transformer';
import {
  IsArray,
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
import { parse as parseYaml } from 'yaml';
import { tryParseQuantity } from '@berth/api';

/**
 * The agent's settings: command-line flags, optionally a YAML file (--config) with the same
 * settings in camelCase; flags win over the file. Validated at boot with class-validator;
 * parseAgentFlags throws FlagError whose message is one line naming the bad flag (or file key).
 */
export class AgentConfig {
  @Matches(/^https?:\/\/[^\s/]+(\/\S*)?$/, { message: 'must be an http:// or https:// URL' })
  server = '';

  @IsOptional()
  @IsString()
  @IsNotEmpty({ message: 'must not be empty' })
  token?: string;

  @IsOptional()
  @IsString()
  @IsNotEmpty({ message: 'must not be empty' })
  tokenFile?: string;

  /** The CA (PEM file) that signed an https control plane's certificate; default the system's CAs. */
  @IsOptional()
  @IsString()
  @IsNotEmpty({ message: 'must not be empty' })
  caFile?: string;

  /** DNS-1123 subdomain, as Node names are. */
  @Matches(/^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
    message: 'must be a lower-case DNS-1123 subdomain (a-z, 0-9, "-", ".")',
  })
  nodeName = defaultNodeName();

  @Matches(/^\//, { message: 'must be an absolute path' })
  dataDir = '/var/lib/berth/agent';

  /** registry host → mirror URLs, tried in order. */
  registryMirrors: Record<string, string[]> = {};

  @IsArray()
  @Matches(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, { each: true, message: 'must be HOST or HOST:PORT' })
  insecureRegistries: string[] = [];

  @IsIn(['runc', 'crun'], { message: 'must be runc or crun' })
  runtime: 'runc' | 'crun' = 'runc';

  /** HOST:PORT of the agent's own endpoint (logs, images, healthz); port 0 picks a free one. */
  @Matches(/^[^\s:]+:\d{1,5}$/, { message: 'must be HOST:PORT, e.g. 127.0.0.1:10250' })
  listen = '0.0.0.0:10250';

  @IsInt()
  @Min(0)
  restartInitialDelayMs = 1000;

  @IsInt()
  @Min(0)
  restartMaxDelayMs = 60_000;

  @IsInt()
  @Min(0)
  restartResetAfterMs = 600_000;

  @IsInt()
  @Min(100)
  @Max(3_600_000)
  heartbeatIntervalMs = 5000;

  /**
   * The full Node status (Ready's lastHeartbeatTime) is posted when it changes and at least this
   * often; the Lease carries the frequent heartbeat. Unset: 60 s, or 5 heartbeats when shorter.
   */
  @IsOptional()
  @IsInt()
  @Min(1000)
  @Max(3_600_000)
  statusReportIntervalMs?: number;

  @IsIn(['json', 'pretty'], { message: 'must be json or pretty' })
  logFormat: 'json' | 'pretty' = 'json';

  /**
   * What happens to containers when the agent stops: `keep` (default; a restarted agent adopts
   * them) or `stop` (every pod's containers are stopped with their grace period; `berthctl up` uses
   * it so that stopping the cluster stops everything). Pods stay in the API and start again.
   */
  @IsIn(['keep', 'stop'], { message: 'must be keep or stop' })
  onExit: 'keep' | 'stop' = 'keep';

  /** Image GC runs when blobs + layers use more than this many bytes (0 turns it off). */
  @IsInt()
  @Min(0)
  imageGcThresholdBytes = 20 * 1024 ** 3;

  @IsInt()
  @Min(1000)
  imageGcIntervalMs = 60_000;

  /** Pods this node accepts (capacity.pods). */
  @IsInt()
  @Min(1)
  maxPods = 110;
}

export class FlagError extends Error {}

type Kind = 'string' | 'duration' | 'int' | 'list' | 'mirror' | 'quantity';

interface Setting {
  flag: string;
  key: keyof AgentConfig;
  kind: Kind;
}

const SETTINGS: Setting[] = [
  { flag: '--server', key: 'server', kind: 'string' },
  { flag: '--token', key: 'token', kind: 'string' },
  { flag: '--token-file', key: 'tokenFile', kind: 'string' },
  { flag: '--ca-file', key: 'caFile', kind: 'string' },
  { flag: '--node-name', key: 'nodeName', kind: 'string' },
  { flag: '--data-dir', key: 'dataDir', kind: 'string' },
  { flag: '--registry-mirror', key: 'registryMirrors', kind: 'mirror' },
  { flag: '--insecure-registry', key: 'insecureRegistries', kind: 'list' },
  { flag: '--runtime', key: 'runtime', kind: 'string' },
  { flag: '--listen', key: 'listen', kind: 'string' },
  { flag: '--restart-initial-delay', key: 'restartInitialDelayMs', kind: 'duration' },
  { flag: '--restart-max-delay', key: 'restartMaxDelayMs', kind: 'duration' },
  { flag: '--restart-reset-after', key: 'restartResetAfterMs', kind: 'duration' },
  { flag: '--heartbeat-interval', key: 'heartbeatIntervalMs', kind: 'duration' },
  { flag: '--status-report-interval', key: 'statusReportIntervalMs', kind: 'duration' },
  { flag: '--log-format', key: 'logFormat', kind: 'string' },
  { flag: '--on-exit', key: 'onExit', kind: 'string' },
  { flag: '--max-pods', key: 'maxPods', kind: 'int' },
  { flag: '--image-gc-threshold', key: 'imageGcThresholdBytes', kind: 'quantity' },
  { flag: '--image-gc-interval', key: 'imageGcIntervalMs', kind: 'duration' },
];

/** The YAML key of each setting: the flag in camelCase, without the Ms suffix of durations. */
function fileKey(s: Setting): string {
  if (s.kind === 'mirror') return 'registryMirrors';
  if (s.kind === 'list') return 'insecureRegistries';
  return s.flag.slice(2).replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

export const USAGE = `usage: berth-agent --server URL (--token-file FILE | --token TOKEN) [--ca-file FILE] [--node-name NAME]
                   [--data-dir DIR] [--listen HOST:PORT] [--runtime runc|crun]
                   [--registry-mirror REGISTRY=URL]... [--insecure-registry HOST[:PORT]]...
                   [--restart-initial-delay DUR] [--restart-max-delay DUR] [--restart-reset-after DUR]
                   [--heartbeat-interval DUR] [--status-report-interval DUR] [--max-pods N]
                   [--image-gc-threshold SIZE] [--image-gc-interval DUR] [--log-format json|pretty]
                   [--on-exit keep|stop] [--config FILE]
  DUR is a number with a unit (500ms, 1s, 5m, 1h); SIZE a quantity (10Gi, 500Mi; 0 turns image GC off).
  --ca-file FILE: the CA (PEM) that signed an https:// --server's certificate (a control plane
  started with --tls keeps it in DATA_DIR/pki/ca.crt); without it the system's CAs are trusted.
  --config FILE is YAML with the same settings in camelCase: server, token, tokenFile, caFile, nodeName,
  dataDir, registryMirrors ({docker.io: [URL]}), insecureRegistries ([HOST:PORT]), runtime, listen,
  restartInitialDelay, restartMaxDelay, restartResetAfter, heartbeatInterval, statusReportInterval, maxPods,
  imageGcThreshold, imageGcInterval, logFormat, onExit. Flags win over the file.
  --on-exit stop stops every pod's containers when the agent stops (default keep: they run on).
  Defaults: --node-name the host name, --data-dir /var/lib/berth/agent, --listen 0.0.0.0:10250,
  restart backoff 1s doubling to 60s, reset after 10m; heartbeat (Lease renewal in kube-node-lease)
  5s; full Node status when it changes and every 60s (or every 5 heartbeats when that is sooner);
  image GC past 20Gi every 1m.`;

function defaultNodeName(): string {
  return os
    .hostname()
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-');
}

/** Parses a duration like 500ms, 1s, 1.5s, 5m, 1h into milliseconds; undefined when malformed. */
export function parseDuration(s: string | number): number | undefined {
  if (typeof s === 'number') return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s.trim());
  if (!m) return undefined;
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * mult);
}

/** Parses one `REGISTRY=URL` mirror setting. */
export function parseMirror(v: string): [string, string] {
  const eq = v.indexOf('=');
  const host = v.slice(0, eq);
  const url = v.slice(eq + 1);
  if (eq <= 0 || !/^[A-Za-z0-9.-]+(:\d+)?$/.test(host) || !/^https?:\/\/[^\s/]+\/?$/.test(url))
    throw new Error(`must be REGISTRY=URL, e.g. docker.io=http://127.0.0.1:5000 (got "${v}")`);
  return [host, url.replace(/\/$/, '')];
}

type Raw = Partial<Record<keyof AgentConfig, unknown>>;

function apply(raw: Raw, s: Setting, value: unknown, where: string): void {
  const fail = (msg: string): never => {
    throw new FlagError(`${where}: ${msg}`);
  };
  switch (s.kind) {
    case 'string':
      if (typeof value !== 'string') fail('must be a string');
      raw[s.key] = value;
      return;
    case 'int': {
      const n = typeof value === 'number' ? value : /^\d+$/.test(String(value)) ? Number(value) : NaN;
      if (!Number.isInteger(n)) fail(`must be a whole number (got "${String(value)}")`);
      raw[s.key] = n;
      return;
    }
    case 'quantity': {
      const q = tryParseQuantity(typeof value === 'number' ? value : String(value));
      if (q === undefined || q < 0) fail(`must be a size such as 10Gi or 500Mi (got "${String(value)}")`);
      raw[s.key] = Math.round(q!);
      return;
    }
    case 'duration': {
      const ms = parseDuration(typeof value === 'string' ? value : String(value));
      if (ms === undefined) fail(`must be a duration such as 500ms, 1s, 5m (got "${String(value)}")`);
      raw[s.key] = ms;
      return;
    }
    case 'list': {
      const list = (raw[s.key] as string[] | undefined) ?? [];
      for (const v of Array.isArray(value) ? value : [value]) {
        if (typeof v !== 'string') fail('must be a string or a list of strings');
        list.push(v as string);
      }
      raw[s.key] = list;
      return;
    }
    case 'mirror': {
      const mirrors = (raw[s.key] as Record<string, string[]> | undefined) ?? {};
      const add = (host: string, url: string) => (mirrors[host] ??= []).push(url);
      try {
        if (typeof value === 'string') add(...parseMirror(value));
        else if (Array.isArray(value)) for (const v of value) add(...parseMirror(String(v)));
        else if (value && typeof value === 'object') {
          for (const [host, urls] of Object.entries(value as Record<string, unknown>))
            for (const u of Array.isArray(urls) ? urls : [urls]) add(...parseMirror(`${host}=${String(u)}`));
        } else throw new Error('must be REGISTRY=URL entries or a map of registry to URLs');
      } catch (e) {
        fail((e as Error).message);
      }
      raw[s.key] = mirrors;
      return;
    }
  }
}

/** Reads the YAML settings file into `raw`; unknown keys are errors naming the key. */
function applyFile(raw: Raw, file: string): void {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FlagError(`--config ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return;
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new FlagError(`--config ${file}: must be a YAML mapping of settings`);
  const byKey = new Map(SETTINGS.map((s) => [fileKey(s), s]));
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    const s = byKey.get(k);
    if (!s)
      throw new FlagError(
        `--config ${file}: unknown setting "${k}" (allowed: ${[...byKey.keys()].join(', ')})`,
      );
    apply(raw, s, v, `${file}: ${k}`);
  }
}

/**
 * Parses argv (without node and script) into a validated AgentConfig. Accepts `--flag value` and
 * `--flag=value`; repeatable: --registry-mirror, --insecure-registry. Reads the token file.
 */
export function parseAgentFlags(argv: string[]): AgentConfig & { token: string } {
  const fromFlags: Raw = {};
  let configFile: string | undefined;
  const byFlag = new Map(SETTINGS.map((s) => [s.flag, s]));
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (arg !== '--config' && !byFlag.has(arg)) throw new FlagError(`unknown flag "${arg}" (see --help)`);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new FlagError(`${arg}: needs a value`);
    }
    if (arg === '--config') configFile = value;
    else apply(fromFlags, byFlag.get(arg)!, value, arg);
  }
  const raw: Raw = {};
  if (configFile) applyFile(raw, configFile);
  for (const [k, v] of Object.entries(fromFlags) as [keyof AgentConfig, unknown][]) {
    // repeatable settings add to the file's; others replace
    if (k === 'insecureRegistries') raw[k] = [...((raw[k] as string[]) ?? []), ...(v as string[])];
    else if (k === 'registryMirrors') raw[k] = { ...((raw[k] as object) ?? {}), ...(v as object) };
    else raw[k] = v;
  }
  if (!raw.server)
    throw new FlagError('--server: required (the control plane URL, e.g. http://127.0.0.1:6443)');
  const cfg = plainToInstance(AgentConfig, raw);
  const errors = validateSync(cfg, { forbidUnknownValues: false });
  if (errors.length) {
    const e = errors[0];
    const s = SETTINGS.find((x) => x.key === e.property);
    const msg = Object.values(e.constraints ?? {})[0] ?? 'is invalid';
    const shown = String(e.value ?? '');
    throw new FlagError(
      `${s?.flag ?? e.property}: ${msg.replace(new RegExp(`^${e.property} `), '')}${shown ? ` (got "${shown}")` : ''}`,
    );
  }
  if (cfg.restartMaxDelayMs < cfg.restartInitialDelayMs)
    throw new FlagError('--restart-max-delay: must not be below --restart-initial-delay');
  let token = cfg.token;
  if (!token && cfg.tokenFile) {
    let text: string;
    try {
      text = readFileSync(cfg.tokenFile, 'utf8');
    } catch (e) {
      throw new FlagError(`--token-file: cannot read ${cfg.tokenFile}: ${(e as NodeJS.ErrnoException).code}`);
    }
    token = text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l && !l.startsWith('#'));
    if (!token) throw new FlagError(`--token-file: ${cfg.tokenFile} holds no token`);
  }
  if (!token) throw new FlagError('--token-file or --token: required (the control plane bearer token)');
  if (cfg.caFile) {
    let ca: string;
    try {
      ca = readFileSync(cfg.caFile, 'utf8');
    } catch (e) {
      throw new FlagError(`--ca-file: cannot read ${cfg.caFile}: ${(e as NodeJS.ErrnoException).code}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----'))
      throw new FlagError(`--ca-file: ${cfg.caFile} holds no PEM certificate`);
  }
  const [host, port] = splitHostPort(cfg.listen);
  if (port > 65535) throw new FlagError(`--listen: port ${port} is above 65535`);
  void host;
  return Object.assign(cfg, { token });
}

export function splitHostPort(hp: string): [string, number] {
  const i = hp.lastIndexOf(':');
  return [hp.slice(0, i), Number(hp.slice(i + 1))];
}
