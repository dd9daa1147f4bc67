import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiError } from '@berth/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AUTH_TOKENS } from './auth.guard';
import { bearerToken, markAuthenticated, tokenMatches } from './tokens';

/** Paths served without a token: the health probes. */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set(['/healthz', '/livez', '/readyz']);

/** Throws 401 unless the request is for a public path or carries a configured bearer token. */
export function authenticate(req: FastifyRequest, tokens: readonly string[]): void {
  if (PUBLIC_PATHS.has(req.url.split('?')[0])) return;
  const token = bearerToken(req.headers.authorization);
  if (!token || !tokenMatches(token, tokens)) {
    throw new ApiError(
      'Unauthorized',
      token ? 'the bearer token is not valid' : 'a bearer token is required (Authorization: Bearer TOKEN)',
    );
  }
  markAuthenticated(req);
}

/**
 * Authenticates in Fastify's onRequest phase: before the body is read and for every path,
 * including ones no route serves (Kubernetes answers 401 before 404). The AuthGuard lets through
 * what this hook accepted and checks anything else at the handler, where @Public() is visible.
 */
@Injectable()
export class AuthHook implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(AUTH_TOKENS) private readonly tokens: string[],
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', async (req) => authenticate(req, this.tokens));
  }
}
