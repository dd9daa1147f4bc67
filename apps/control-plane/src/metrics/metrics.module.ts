import { Global, Module, type DynamicModule } from '@nestjs/common';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

/** /metrics and the MetricsService (built in main.ts so the store can feed it from the start). */
@Global()
@Module({})
export class MetricsModule {
  static forRoot(metrics: MetricsService): DynamicModule {
    return {
      module: MetricsModule,
      controllers: [MetricsController],
      providers: [{ provide: MetricsService, useValue: metrics }],
      exports: [MetricsService],
    };
  }
}
