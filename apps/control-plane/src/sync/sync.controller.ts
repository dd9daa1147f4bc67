import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Server as TlsServer } from 'node:tls';
import { BerthClient } from '@berth/client';
import { sleep } from '@berth/controllers';
import { defaultSyncName, Syncer } from '@berth/sync';
import type { Logger } from 'pino';
import { AUTH_TOKENS } from '../auth/auth.guard';
import { SERVER_CONFIG, type ServerConfig } from '../config/config';
import { ControllerManager, type Controller } from '../controllers/controller-manager';
import { LOGGER } from '../logging/logger';

/** The URL this process serves the API on, once it listens (loopback for a wildcard address). */
export function localUrl(addr: AddressInfo | string | null, secure = false): string | undefined {
  if (!addr || typeof addr === 'string') return undefined;
  let host = addr.address;
  if (host === '0.0.0.0') host = '127.0.0.1';
  else if (host === '::') host = '[::1]';
  else if (addr.family === 'IPv6') host = `[${host}]`;
  return `${secure ? 'https' : 'http'}://${host}:${addr.port}`;
}

/**
 * `--sync-dir DIR`: the GitOps sync run inside the cluster, on the leader only. It is the same
 * Syncer as `berthctl sync DIR --watch --prune`, talking to this control plane's own API with the
 * first admin token, so its writes go through authentication, validation and the apply machinery
 * like anyone else's. A vanished directory stalls the sync (status + Event) until it is back.
 */
@Injectable()
export class SyncController implements Controller, OnModuleInit {
  readonly name = 'sync';

  constructor(
    private readonly manager: ControllerManager,
    private readonly http: HttpAdapterHost,
    @Inject(AUTH_TOKENS) private readonly tokens: string[],
    @Inject(SERVER_CONFIG) private readonly config: ServerConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onModuleInit(): void {
    if (this.config.syncDir) this.manager.register(this);
  }

  async run(signal: AbortSignal): Promise<void> {
    const dir = this.config.syncDir!;
    const name = this.config.syncName ?? defaultSyncName(dir);
    const log = this.log.child({ controller: 'sync', dir });
    // Controllers start before the server listens: wait for the address.
    let url: string | undefined;
    let secure = false;
    while (!signal.aborted && !url) {
      const server = this.http.httpAdapter?.getHttpServer();
      secure = server instanceof TlsServer;
      url = localUrl(server?.address() ?? null, secure);
      if (!url) await sleep(100, signal);
    }
    if (!url) return;
    // Over TLS the loopback call verifies this server's certificate: against the generated CA
    // (--tls auto), or the given certificate file itself (self-signed, or a chain with its root).
    let ca: Buffer | undefined;
    if (secure) {
      const caFile = this.config.tlsCertFile ?? path.join(this.config.dataDir, 'pki', 'ca.crt');
      try {
        ca = readFileSync(caFile);
      } catch (e) {
        log.error(
          { caFile, err: (e as Error).message },
          'sync: cannot read the CA to call this API; not syncing',
        );
        return;
      }
    }
    const syncer = new Syncer({
      client: new BerthClient({ server: url, token: this.tokens[0], ca }),
      dir,
      name,
      prune: this.config.syncPrune === 'true',
      runner: 'control-plane',
      stopWhenDirectoryVanishes: false,
      log: (level, msg, fields) => log[level](fields ?? {}, `sync: ${msg}`),
    });
    while (!signal.aborted) {
      try {
        await syncer.watch(signal);
      } catch (e) {
        log.error({ err: (e as Error).message }, 'sync: stopped; restarting in 5 s');
        await sleep(5000, signal);
      }
    }
  }
}
