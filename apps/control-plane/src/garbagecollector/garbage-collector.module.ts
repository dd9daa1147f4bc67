import { Module } from '@nestjs/common';
import { GarbageCollectorController } from './garbage-collector.controller';

/** Cascading deletion through ownerReferences (background, foreground, orphan). */
@Module({ providers: [GarbageCollectorController] })
export class GarbageCollectorModule {}
