import type { Command } from 'commander';
import { ApiError, resolveKindName, KINDS, type KindInfo } from '@berth/api';
import { BerthClient, resolveConnection, loadConfig, configPath, type Connection } from '@berth/client';
import { parseDuration } from './age';
import { CliError, EXIT, UsageError } from './errors';
import type { CliIO } from './io';

/** The program-wide flags every command sees. */
export interface GlobalOptions {
  server?: string;
  token?: string;
  namespace?: string;
  context?: string;
  certificateAuthority?: string;
  requestTimeout?: string;
}

/** What a command runs with: where to print, and (lazily) the connection to the API server. */
export class CommandContext {
  private conn?: Connection;
  private clientInstance?: BerthClient;

  constructor(
    readonly io: CliIO,
    readonly globals: GlobalOptions,
  ) {}

  static of(cmd: Command, io: CliIO): CommandContext {
    return new CommandContext(io, cmd.optsWithGlobals<GlobalOptions>());
  }

  get connection(): Connection {
    if (!this.conn) {
      this.conn = resolveConnection(
        {
          server: this.globals.server,
          token: this.globals.token,
          namespace: this.globals.namespace,
          context: this.globals.context,
          certificateAuthority: this.globals.certificateAuthority,
        },
        this.io.env,
        loadConfig(configPath(this.io.env)),
      );
    }
    return this.conn;
  }

  /** The namespace: -n, else the context's, else 'default'. */
  get namespace(): string {
    return this.connection.namespace;
  }

  /** Whether -n was given on the command line. */
  get namespaceFlag(): string | undefined {
    return this.globals.namespace;
  }

  get client(): BerthClient {
    if (!this.clientInstance) {
      let timeoutMs = 30_000;
      if (this.globals.requestTimeout !== undefined) {
        try {
          timeoutMs = parseDuration(this.globals.requestTimeout);
        } catch (e) {
          throw new UsageError(`--request-timeout: ${(e as Error).message}`);
        }
      }
      const c = this.connection;
      this.clientInstance = new BerthClient({
        server: c.server,
        token: c.token,
        timeoutMs,
        ca: c.ca,
        userAgent: 'berthctl',
      });
    }
    return this.clientInstance;
  }

  out(text: string): void {
    this.io.out(text);
  }

  err(text: string): void {
    this.io.err(text);
  }
}

/** Resolves a kubectl-style kind name (pods, po, deploy, deployments.apps, ...) or fails with the list. */
export function kindArg(name: string): KindInfo {
  const k = resolveKindName(name);
  if (!k) {
    const known = KINDS.map((x) =>
      x.shortNames.length ? `${x.resource} (${x.shortNames.join(', ')})` : x.resource,
    );
    throw new CliError(
      `the server doesn't have a resource type "${name}"`,
      EXIT.NOT_FOUND,
      `known types: ${known.join(', ')}`,
    );
  }
  return k;
}

/** Splits `pod/web` into kind and name; undefined when there is no slash. */
export function splitKindSlashName(arg: string): { kind: KindInfo; name: string } | undefined {
  const i = arg.indexOf('/');
  if (i <= 0) return undefined;
  return { kind: kindArg(arg.slice(0, i)), name: arg.slice(i + 1) };
}

export function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.code === 404;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
