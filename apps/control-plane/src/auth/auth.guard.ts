import { Inject, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiError } from '@berth/api';
import type { FastifyRequest } from 'fastify';
import { bearerToken, isAuthenticated, tokenMatches } from './tokens';

export const AUTH_TOKENS = Symbol('AUTH_TOKENS');
const PUBLIC = 'berth:public';

/** Marks a handler (or controller) as reachable without a token (health probes). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC, true);

/** Requires `Authorization: Bearer <token>` with one of the configured tokens (constant-time). */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(AUTH_TOKENS) private readonly tokens: string[],
  ) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    // The onRequest hook already accepted this request's token: no second hash and compare.
    if (isAuthenticated(req)) return true;
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, [ctx.getHandler(), ctx.getClass()])) return true;
    const token = bearerToken(req.headers.authorization);
    if (!token || !tokenMatches(token, this.tokens)) {
      throw new ApiError(
        'Unauthorized',
        token ? 'the bearer token is not valid' : 'a bearer token is required (Authorization: Bearer TOKEN)',
      );
    }
    return true;
  }
}
