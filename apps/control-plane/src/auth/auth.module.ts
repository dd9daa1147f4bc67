import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AUTH_TOKENS, AuthGuard } from './auth.guard';
import { AuthHook } from './auth.hook';

/** Bearer-token authentication on every path but the probes (onRequest hook + route guard). */
@Module({})
export class AuthModule {
  static forRoot(tokens: string[]): DynamicModule {
    return {
      module: AuthModule,
      providers: [
        { provide: AUTH_TOKENS, useValue: tokens },
        { provide: APP_GUARD, useClass: AuthGuard },
        AuthHook,
      ],
      // The pod log proxy presents the first token to agents.
      exports: [AUTH_TOKENS],
      global: true,
    };
  }
}
