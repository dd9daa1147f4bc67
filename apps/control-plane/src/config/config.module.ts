import { Global, Module, type DynamicModule } from '@nestjs/common';
import { SERVER_CONFIG, type ServerConfig } from './config';

/** Makes the validated flags injectable as SERVER_CONFIG everywhere. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: ServerConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: SERVER_CONFIG, useValue: config }],
      exports: [SERVER_CONFIG],
    };
  }
}
