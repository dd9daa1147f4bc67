import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { RESOURCE_STORE, type ResourceStore } from '@berth/store';
import { Public } from '../auth/auth.guard';

/** Probes without authentication: /livez and /healthz (process up), /readyz (storage answers). */
@Public()
@Controller()
export class HealthController {
  constructor(@Inject(RESOURCE_STORE) private readonly store: ResourceStore) {}

  @Get(['livez', 'healthz'])
  async live(@Res() reply: FastifyReply): Promise<void> {
    await reply.code(200).header('content-type', 'text/plain').send('ok');
  }

  @Get('readyz')
  async ready(@Res() reply: FastifyReply): Promise<void> {
    let ok = false;
    try {
      ok = await this.store.ping();
    } catch {
      ok = false;
    }
    await reply
      .code(ok ? 200 : 503)
      .header('content-type', 'text/plain')
      .send(ok ? 'ok' : 'storage is unavailable');
  }
}
