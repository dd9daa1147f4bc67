import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';

/** One named connection: where the API server is and how to authenticate. */
export interface Context {
  name: string;
  server: string;
  token?: string;
  /** A file holding the token (read at use, so a rotated token is picked up). */
  tokenFile?: string;
  /** The default namespace for this context. */
  namespace?: string;
  /** A PEM file with the CA that signed an https server's certificate (kubeconfig's certificate-authority). */
  certificateAuthority?: string;
  /** The same CA as base64 of its PEM (kubeconfig's certificate-authority-data); wins over the file. */
  certificateAuthorityData?: string;
}

export interface BerthConfig {
  currentContext?: string;
  contexts: Context[];
}

/** What a command connects with, after flags, environment and the config file are combined. */
export interface Connection {
  server: string;
  token?: string;
  namespace: string;
  /** The CA to trust for an https server (PEM), when one was configured; else the system's CAs. */
  ca?: string;
  /** Where the CA came from (a file, `context "NAME"`), for messages. */
  caSource?: string;
  /** The context used, if any. */
  context?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_SERVER = 'http://127.0.0.1:6443';

/** $BERTH_CONFIG, else ~/.berth/config. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.BERTH_CONFIG || path.join(env.HOME || os.homedir(), '.berth', 'config');
}

function str(v: unknown, field: string, file: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ConfigError(`${file}: ${field} must be a string`);
  return v;
}

/** Reads the config file; a missing file is an empty config. A malformed one is a ConfigError. */
export function loadConfig(file: string = configPath()): BerthConfig {
  if (!existsSync(file)) return { contexts: [] };
  let doc: unknown;
  try {
    doc = YAML.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return { contexts: [] };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${file}: expected a mapping`);
  const d = doc as Record<string, unknown>;
  const rawContexts = d.contexts ?? [];
  if (!Array.isArray(rawContexts)) throw new ConfigError(`${file}: contexts must be a list`);
  const contexts = rawContexts.map((c: unknown, i: number): Context => {
    if (typeof c !== 'object' || c === null)
      throw new ConfigError(`${file}: contexts[${i}] must be a mapping`);
    const r = c as Record<string, unknown>;
    const name = str(r.name, `contexts[${i}].name`, file);
    const server = str(r.server, `contexts[${i}].server`, file);
    if (!name) throw new ConfigError(`${file}: contexts[${i}].name is required`);
    if (!server) throw new ConfigError(`${file}: contexts[${i}].server is required`);
    const ctx: Context = { name, server };
    const token = str(r.token, `contexts[${i}].token`, file);
    const tokenFile = str(r.tokenFile, `contexts[${i}].tokenFile`, file);
    const namespace = str(r.namespace, `contexts[${i}].namespace`, file);
    const caFile = str(r.certificateAuthority, `contexts[${i}].certificateAuthority`, file);
    const caData = str(r.certificateAuthorityData, `contexts[${i}].certificateAuthorityData`, file);
    if (token) ctx.token = token;
    if (tokenFile) ctx.tokenFile = tokenFile;
    if (namespace) ctx.namespace = namespace;
    if (caFile) ctx.certificateAuthority = caFile;
    if (caData) {
      if (!isPem(Buffer.from(caData, 'base64').toString()))
        throw new ConfigError(
          `${file}: contexts[${i}].certificateAuthorityData must be the base64 of a PEM certificate`,
        );
      ctx.certificateAuthorityData = caData;
    }
    return ctx;
  });
  return { currentContext: str(d.currentContext, 'currentContext', file), contexts };
}

/** Writes the config atomically with mode 0600 (it holds tokens), creating its directory (0700). */
export function saveConfig(cfg: BerthConfig, file: string = configPath()): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const doc: Record<string, unknown> = {};
  if (cfg.currentContext) doc.currentContext = cfg.currentContext;
  doc.contexts = cfg.contexts;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, YAML.stringify(doc), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** Adds or replaces a context by name. */
export function upsertContext(cfg: BerthConfig, ctx: Context): BerthConfig {
  const contexts = cfg.contexts.filter((c) => c.name !== ctx.name);
  const i = cfg.contexts.findIndex((c) => c.name === ctx.name);
  contexts.splice(i < 0 ? contexts.length : i, 0, ctx);
  return { ...cfg, contexts };
}

export interface ConnectionFlags {
  server?: string;
  token?: string;
  namespace?: string;
  context?: string;
  /** --certificate-authority FILE */
  certificateAuthority?: string;
}

function isPem(text: string): boolean {
  return /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(text);
}

/** Reads a CA file for a connection; a missing or non-PEM file is a ConfigError naming where it was set. */
function readCaFile(file: string, where: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(
      `cannot read the CA file ${file} (${where}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (!isPem(text)) throw new ConfigError(`the CA file ${file} (${where}) holds no PEM certificate`);
  return text;
}

/**
 * Resolves where to connect: flags (--server/--token/--namespace/--context/--certificate-authority)
 * over the environment (BERTH_SERVER, BERTH_TOKEN, BERTH_CA_FILE) over the context (--context, else
 * currentContext). The namespace is the flag's, else the context's, else 'default'. Without any
 * server: DEFAULT_SERVER. A context's token and CA apply only to the context's own server.
 */
export function resolveConnection(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv = process.env,
  cfg: BerthConfig = loadConfig(configPath(env)),
): Connection {
  const ctxName = flags.context ?? cfg.currentContext;
  let ctx: Context | undefined;
  if (ctxName) {
    ctx = cfg.contexts.find((c) => c.name === ctxName);
    if (!ctx && flags.context)
      throw new ConfigError(
        `context "${flags.context}" is not in the config; list them with \`berthctl config get-contexts\``,
      );
  }
  const server = flags.server || env.BERTH_SERVER || ctx?.server || DEFAULT_SERVER;
  let token = flags.token || env.BERTH_TOKEN || undefined;
  // A context's credentials only belong to the context's own server.
  const ctxApplies = !!ctx && (server === ctx.server || (!flags.server && !env.BERTH_SERVER));
  let ca: string | undefined;
  let caSource: string | undefined;
  if (flags.certificateAuthority) {
    caSource = `--certificate-authority ${flags.certificateAuthority}`;
    ca = readCaFile(flags.certificateAuthority, '--certificate-authority');
  } else if (env.BERTH_CA_FILE) {
    caSource = `BERTH_CA_FILE ${env.BERTH_CA_FILE}`;
    ca = readCaFile(env.BERTH_CA_FILE, 'BERTH_CA_FILE');
  } else if (ctx && ctxApplies && ctx.certificateAuthorityData) {
    caSource = `certificateAuthorityData of context "${ctx.name}"`;
    ca = Buffer.from(ctx.certificateAuthorityData, 'base64').toString();
  } else if (ctx && ctxApplies && ctx.certificateAuthority) {
    caSource = `${ctx.certificateAuthority} of context "${ctx.name}"`;
    ca = readCaFile(ctx.certificateAuthority, `context "${ctx.name}"`);
  }
  if (!token && ctx && ctxApplies) {
    if (ctx.token) token = ctx.token;
    else if (ctx.tokenFile) {
      try {
        token = readFileSync(ctx.tokenFile, 'utf8').trim();
      } catch (e) {
        throw new ConfigError(
          `cannot read the token file ${ctx.tokenFile} of context "${ctx.name}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
    }
  }
  const conn: Connection = { server, namespace: flags.namespace || ctx?.namespace || 'default' };
  if (token) conn.token = token;
  if (ca) Object.assign(conn, { ca, caSource });
  if (ctx) conn.context = ctx.name;
  return conn;
}
