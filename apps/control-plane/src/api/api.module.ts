import { Module } from '@nestjs/common';
import { OpenApiController } from './openapi.controller';
import { ResourceController, ShutdownSignal } from './resource.controller';
import { ResourceService } from './resource.service';
import { ServicesController } from './services.controller';
import { PodLogService } from '../logs/pod-logs.service';

/** The Kubernetes-shaped REST API: one generic controller over the kind registry. */
@Module({
  controllers: [ResourceController, OpenApiController, ServicesController],
  providers: [ResourceService, ShutdownSignal, PodLogService],
  exports: [ResourceService],
})
export class ApiModule {}
