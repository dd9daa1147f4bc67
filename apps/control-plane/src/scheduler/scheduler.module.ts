import { Module } from '@nestjs/common';
import { SchedulerController } from './scheduler.controller';

/** The pod scheduler (controller name 'scheduler'); the controller runtime comes from ControllersModule. */
@Module({ providers: [SchedulerController] })
export class SchedulerModule {}
